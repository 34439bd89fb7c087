/**
 * What the pages read from: the store's queries, the application's classes
 * and processors, and how the browser was configured.
 *
 * @module
 */
import type { AggregateRoot } from "../core/aggregate_root.ts";
import type { BrowseQueries } from "../core/browse_queries.ts";
import type { AuditQueries } from "../core/event_store.ts";
import type { ProcessorRunner } from "../core/processor_runner.ts";
import type { MessageSerializer } from "../core/serializer.ts";
import type { PayloadMode } from "./_payload_view.ts";

/** The pages' sources. */
export interface BrowserDeps {
  /** The browser's queries. */
  readonly queries: BrowseQueries;
  /** The store's audit queries (causation up the chain). */
  readonly audit: Pick<AuditQueries, "commandForEvent">;
  /** The application's serializer, for time travel. */
  readonly serializer: MessageSerializer;
  /** The application's aggregate classes, for time travel. */
  readonly aggregateClasses: readonly (new (id: string) => AggregateRoot)[];
  /** The application's processors, if it has any. */
  readonly processors: ProcessorRunner | undefined;
  /** How payloads are shown. */
  readonly payloads: PayloadMode;
  /** Rows per page. */
  readonly pageSize: number;
}
