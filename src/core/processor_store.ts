/**
 * What asynchronous processors keep: per processor a checkpoint (the
 * position in the event stream it has handled up to), a claim (a lease
 * with a fencing token, so only one process at a time acts for a
 * processor), and the aggregates it set aside because a handler failed.
 * The in-memory store and PostgreSQL implement it.
 *
 * Rules every implementation keeps:
 *
 * - A claim lasts `ttlMs` unless renewed by its owner; when it has lapsed,
 *   another owner may claim the processor and gets a larger token.
 * - {@linkcode ProcessorStore.commit} is fenced: it stores the read-model
 *   writes, the parking changes and the new checkpoint together, and only
 *   while the claim it names is still the live one; otherwise it stores
 *   nothing and returns false. So two owners never both move a checkpoint.
 *
 * @module
 */
import type { EventReader, StreamPosition } from "./event_reader.ts";
import type { RecordStore } from "./record_store.ts";

/**
 * A live claim on a processor.
 *
 * @example
 * ```ts
 * import type { Lease } from "@sequent/core/internal";
 *
 * const lease: Lease = { owner: "worker-1", token: 7, checkpoint: "" };
 * ```
 */
export interface Lease {
  /** Who holds it. */
  readonly owner: string;
  /** The fencing token: larger for every new claim. */
  readonly token: number;
  /** The processor's checkpoint when the claim was made or renewed. */
  readonly checkpoint: StreamPosition;
}

/**
 * What a processor asks of an aggregate it set aside.
 *
 * @example
 * ```ts
 * import type { ParkRequest } from "@sequent/core/internal";
 *
 * const request: ParkRequest = "retry";
 * ```
 */
export type ParkRequest = "retry" | "skip";

/**
 * An aggregate a processor set aside: a handler failed on one of its
 * events, and its later events wait until the failed one is retried or
 * skipped; other aggregates go on.
 *
 * @example
 * ```ts
 * import type { ParkedAggregate } from "@sequent/core";
 *
 * function describe(p: ParkedAggregate): string {
 *   return `${p.aggregateId} waits at event ${p.sequenceNumber}: ${p.error}`;
 * }
 * ```
 */
export interface ParkedAggregate {
  /** The aggregate. */
  readonly aggregateId: string;
  /** The event that failed (the first not handled). */
  readonly sequenceNumber: number;
  /** Why it failed. */
  readonly error: string;
  /** When it was set aside. */
  readonly parkedAt: Date;
  /** What an operator asked for, not yet done. */
  readonly request: ParkRequest | undefined;
}

/**
 * A change to the parked aggregates, stored with a checkpoint.
 *
 * @example
 * ```ts
 * import type { ParkChange } from "@sequent/core/internal";
 *
 * const change: ParkChange = { park: { aggregateId: crypto.randomUUID(), sequenceNumber: 3, error: "boom" } };
 * ```
 */
export type ParkChange =
  | {
    readonly park: {
      readonly aggregateId: string;
      readonly sequenceNumber: number;
      readonly error: string;
    };
  }
  | { readonly unpark: string };

/**
 * The transaction that holds back the stream's horizon: processors read
 * only events of transactions older than the oldest one still running, so
 * a long transaction anywhere in the cluster holds them back.
 *
 * @example
 * ```ts
 * import type { HorizonBlocker } from "@sequent/core";
 *
 * function describe(b: HorizonBlocker): string {
 *   return `pid ${b.pid} in ${b.database} (${b.state}), ${b.ageMs} ms: ${b.query}`;
 * }
 * ```
 */
export interface HorizonBlocker {
  /** Its server process. */
  readonly pid: number;
  /** Its database (maybe another than the app's: the horizon is cluster-wide). */
  readonly database: string;
  /** `active`, `idle in transaction`, … */
  readonly state: string;
  /** How long its transaction has been running. */
  readonly ageMs: number;
  /** Its current or last statement. */
  readonly query: string;
}

/**
 * A processor's recorded state.
 *
 * @example
 * ```ts
 * import type { ProcessorRecord } from "@sequent/core/internal";
 *
 * function lagging(p: ProcessorRecord): boolean {
 *   return p.parked.length > 0;
 * }
 * ```
 */
export interface ProcessorRecord {
  /** The processor's name. */
  readonly name: string;
  /** Where it has handled up to. */
  readonly checkpoint: StreamPosition;
  /** The owner of the live claim, if any. */
  readonly owner: string | undefined;
  /** When that claim lapses. */
  readonly leaseExpiresAt: Date | undefined;
  /** The aggregates it set aside. */
  readonly parked: readonly ParkedAggregate[];
}

/**
 * Where processors keep their checkpoints, claims and parked aggregates;
 * see the module documentation for the rules.
 *
 * @example A processor's checkpoint
 * ```ts
 * import { InMemoryEventStore, InMemoryProcessorStore } from "@sequent/core";
 *
 * const processors = new InMemoryProcessorStore(new InMemoryEventStore());
 * const lease = await processors.claim("search", "me", 5_000);
 * console.assert(lease?.checkpoint === "");
 * ```
 */
export interface ProcessorStore {
  /** The event stream the processors read. */
  readonly reader: EventReader;
  /**
   * Claims the processor for `owner`, or renews `owner`'s claim, for
   * `ttlMs`. `undefined` while another owner's claim is live.
   *
   * @param name The processor.
   * @param owner Who claims (unique per process and runner).
   * @param ttlMs How long the claim lasts unless renewed.
   * @returns The claim, or `undefined`.
   */
  claim(name: string, owner: string, ttlMs: number): Promise<Lease | undefined>;
  /**
   * Gives a claim up at once (on a clean stop), so another owner need not
   * wait for it to lapse.
   *
   * @param name The processor.
   * @param lease The claim.
   */
  release(name: string, lease: Lease): Promise<void>;
  /**
   * Stores, together and only while `lease` is the live claim: the writes
   * `work` makes through the records it is given, the parking `changes`,
   * and the checkpoint `to`.
   *
   * @param name The processor.
   * @param lease The claim it acts under.
   * @param to The new checkpoint.
   * @param work Read-model writes (a projector's), if any.
   * @param changes Aggregates to set aside or take back.
   * @returns Whether it was stored (false: the claim was lost).
   */
  commit(
    name: string,
    lease: Lease,
    to: StreamPosition,
    work?: ((records: RecordStore) => Promise<void>) | undefined,
    changes?: readonly ParkChange[],
  ): Promise<boolean>;
  /**
   * Asks the processor to retry, or skip, the failed event of a parked
   * aggregate; the processor does it on its next round.
   *
   * @param name The processor.
   * @param aggregateId The aggregate.
   * @param request What to do.
   * @returns Whether that aggregate was parked.
   */
  request(
    name: string,
    aggregateId: string,
    request: ParkRequest,
  ): Promise<boolean>;
  /**
   * Starts the processor over: its checkpoint back to the start, its
   * parked aggregates forgotten, its claim ended (the holder's next commit
   * fails), and the writes `work` makes (emptying the processor's tables),
   * all in one transaction.
   *
   * @param name The processor.
   * @param work Read-model writes made together with the reset, if any.
   */
  reset(
    name: string,
    work?: ((records: RecordStore) => Promise<void>) | undefined,
  ): Promise<void>;
  /**
   * The transaction that holds processors back, if one does: processors
   * read only below the oldest transaction still running, so a long one
   * (in any database of a PostgreSQL cluster) delays every processor. A
   * store whose commits are instant (in memory) has none.
   *
   * @returns It, or `undefined`.
   */
  horizonBlocker(): Promise<HorizonBlocker | undefined>;
  /**
   * The recorded state of processors (those never run are left out).
   *
   * @param names The processors.
   * @returns Their records.
   */
  records(names: readonly string[]): Promise<ProcessorRecord[]>;
}
