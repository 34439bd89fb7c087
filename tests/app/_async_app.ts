/**
 * The app of the processor tests that need a server or a second process:
 * the blog's posts, with a projector of their titles run asynchronously.
 * Every process that opens it with the same schema shares its events,
 * read model and processor checkpoints.
 */
import {
  type AppConfig,
  column,
  Projector,
  silentLogger,
  table,
} from "@sequent/core";
import {
  PostAdded,
  PostCommandHandler,
  PostTitleChanged,
} from "../fixtures/blog.ts";

/** The read model the asynchronous projector keeps. */
export const asyncTitles = table("async_titles", {
  aggregateId: column.uuid().primaryKey(),
  title: column.text().nullable(),
});

/** Keeps `async_titles`, after the commit, as a processor. */
export class AsyncTitleProjector extends Projector {
  static override readonly manages = [asyncTitles];
  static {
    this.on(
      PostAdded,
      (p, e) =>
        p.createRecord(asyncTitles, {
          aggregateId: e.aggregateId,
          title: null,
        }),
    );
    this.on(
      PostTitleChanged,
      (p, e) =>
        p.updateAllRecords(asyncTitles, { aggregateId: e.aggregateId }, {
          title: e.title ?? null,
        }),
    );
  }
}

/** The polling pauses of these tests' processors. */
export const POLL_MS = { min: 5, max: 100 } as const;

/** The app on `url`, its event store in `schema`. */
export function asyncAppConfig(url: string, schema: string): AppConfig {
  return {
    database: url,
    eventStoreSchema: schema,
    viewSchema: `${schema}_view`,
    commandHandlers: [new PostCommandHandler()],
    processors: [AsyncTitleProjector],
    processorOptions: { pollMs: POLL_MS, leaseMs: 2_000 },
    migrations: { 1: [AsyncTitleProjector] },
    logger: silentLogger,
  };
}
