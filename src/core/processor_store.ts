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
 * - A **partitioned** processor runs as several members, in one process
 *   or many: each member keeps itself on the processor's member list with
 *   {@linkcode ProcessorStore.join} (an entry that lapses after `ttlMs`
 *   like a claim), and claims its share of the partitions with
 *   {@linkcode ProcessorStore.claimPartitions}. Each partition has a claim,
 *   a token and a checkpoint of its own; a commit under a partitioned
 *   claim moves the checkpoint of every partition it holds, and only while
 *   it holds every one of them with its token. A partition's checkpoint
 *   never moves back: a commit leaves one already past its position as it
 *   is. The first claim of a processor's partitions starts them all from
 *   the processor's own checkpoint, so a processor can become partitioned.
 * - A processor is either unpartitioned or partitioned, never both at
 *   once, so no event is handled by both kinds of runner in a rolling
 *   deploy: its partitions are not made while an unpartitioned claim on
 *   it is live, and once they are, every unpartitioned claim is refused
 *   (the old claim's next commit fails). From then on its partitions'
 *   checkpoints are where it stands, until a reset: a runner configured
 *   unpartitioned runs it as a member holding every partition no other
 *   member shares, going on where the partitions are, none repeated and
 *   none skipped.
 *
 * @module
 */
import type { EventReader, StreamPosition } from "./event_reader.ts";
import type { RecordStore } from "./record_store.ts";

/**
 * A live claim on one partition of a partitioned processor.
 *
 * @example
 * ```ts
 * import type { PartitionClaim } from "@sequent/core/internal";
 *
 * const claim: PartitionClaim = { partition: 17, token: 3, checkpoint: "" };
 * ```
 */
export interface PartitionClaim {
  /** The partition (see `partitionOf`). */
  readonly partition: number;
  /** Its fencing token: larger for every new claim of it. */
  readonly token: number;
  /** Its checkpoint when the claim was made or renewed. */
  readonly checkpoint: StreamPosition;
}

/**
 * A live claim on a processor, or on some partitions of a partitioned
 * one.
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
  /** The fencing token: larger for every new claim (0 for partitions, which have their own). */
  readonly token: number;
  /**
   * The processor's checkpoint when the claim was made or renewed (for
   * partitions: the earliest of theirs).
   */
  readonly checkpoint: StreamPosition;
  /** The partitions held, for a partitioned processor. */
  readonly partitions?: readonly PartitionClaim[] | undefined;
}

/**
 * The members of a partitioned processor, as one of them sees them when it
 * renews its entry.
 *
 * @example
 * ```ts
 * import type { Membership } from "@sequent/core/internal";
 *
 * const seen: Membership = { members: ["worker-1", "worker-2"], partitions: 64, nextLapseMs: 2_400 };
 * ```
 */
export interface Membership {
  /** The live members, this one included, sorted. */
  readonly members: readonly string[];
  /** How many partitions the store has. */
  readonly partitions: number;
  /**
   * In how many milliseconds the first of the other members' entries
   * lapses unless renewed (undefined: no other member). A member that died
   * is gone then: asking again at that moment hands its partitions over
   * without waiting for a renewal.
   */
  readonly nextLapseMs: number | undefined;
}

/**
 * One partition of a partitioned processor, as recorded.
 *
 * @example
 * ```ts
 * import type { PartitionRecord } from "@sequent/core";
 *
 * function line(p: PartitionRecord): string {
 *   return `${p.partition}: ${p.owner ?? "nobody"} at ${p.checkpoint}`;
 * }
 * ```
 */
export interface PartitionRecord {
  /** The partition. */
  readonly partition: number;
  /** Where it has handled up to. */
  readonly checkpoint: StreamPosition;
  /** The member holding it, if one does. */
  readonly owner: string | undefined;
  /** When that claim lapses. */
  readonly leaseExpiresAt: Date | undefined;
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
  /**
   * Where it has handled up to (partitioned: the earliest of its
   * partitions' checkpoints, so every event up to it is handled).
   */
  readonly checkpoint: StreamPosition;
  /** The owner of the live claim, if any (partitioned: none). */
  readonly owner: string | undefined;
  /** When that claim lapses. */
  readonly leaseExpiresAt: Date | undefined;
  /**
   * The aggregates it set aside, oldest first (the first `parkedLimit`
   * of them when `records` was given one).
   */
  readonly parked: readonly ParkedAggregate[];
  /** How many aggregates it set aside, all of them. */
  readonly parkedCount: number;
  /** Its partitions, once it has run partitioned (else empty). */
  readonly partitions: readonly PartitionRecord[];
  /** Its live members, when it runs partitioned, sorted. */
  readonly members: readonly string[];
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
   * `ttlMs`. `undefined` while another owner's claim is live, and once the
   * processor is partitioned (see the module's rules).
   *
   * @param name The processor.
   * @param owner Who claims (unique per process and runner).
   * @param ttlMs How long the claim lasts unless renewed.
   * @returns The claim, or `undefined`.
   */
  claim(name: string, owner: string, ttlMs: number): Promise<Lease | undefined>;
  /**
   * Enters `member` on a partitioned processor's member list, or renews
   * its entry, for `ttlMs`; entries not renewed in time are dropped.
   *
   * @param name The processor.
   * @param member Who joins (unique per process and runner).
   * @param ttlMs How long the entry lasts unless renewed.
   * @returns The live members and the store's partition count.
   */
  join(name: string, member: string, ttlMs: number): Promise<Membership>;
  /**
   * Takes `member` off the member list at once (on a clean stop).
   *
   * @param name The processor.
   * @param member Who leaves.
   */
  leave(name: string, member: string): Promise<void>;
  /**
   * Claims for `owner`, or renews, those of `partitions` that nobody else
   * holds (or whose claim has lapsed), for `ttlMs`; the others are left
   * out of the lease. A partition claimed anew gets a larger token. None is
   * claimed while an unpartitioned claim on the processor is live.
   *
   * @param name The processor.
   * @param owner Who claims.
   * @param partitions The partitions wanted.
   * @param ttlMs How long the claims last unless renewed.
   * @returns The claim on the partitions obtained (maybe none).
   */
  claimPartitions(
    name: string,
    owner: string,
    partitions: readonly number[],
    ttlMs: number,
  ): Promise<Lease>;
  /**
   * Gives a claim up at once (on a clean stop), so another owner need not
   * wait for it to lapse; for a partitioned claim, the partitions it
   * names.
   *
   * @param name The processor.
   * @param lease The claim.
   */
  release(name: string, lease: Lease): Promise<void>;
  /**
   * Stores, together and only while `lease` is the live claim: the writes
   * `work` makes through the records it is given, the parking `changes`,
   * and the checkpoint `to` (for a partitioned claim: of every partition
   * it holds that is not past `to` already, and only while it holds all).
   *
   * @param name The processor.
   * @param lease The claim it acts under.
   * @param to The new checkpoint.
   * @param work Read-model writes (a projector's), if any.
   * @param changes Aggregates to set aside or take back.
   * @returns Whether it was stored (false: the claim was lost).
   * @throws whatever `work` threw, as it is; `RecordWriteRejectedError`
   *   when the store refuses writes `work` made for their data's sake but
   *   finds out only after `work` returned (a store that gathers writes and
   *   sends them at the end): nothing is stored then, and the runner finds
   *   the event by going one at a time. Any other failure (a lost
   *   connection) is raised as it is, and the batch is tried again.
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
   * parked aggregates and partitions forgotten, its claims ended (the
   * holders' next commits fail), and the writes `work` makes (emptying the processor's tables),
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
   * @param names The processors (default: every one recorded).
   * @param options `parkedLimit`: reads at most that many of each one's
   *   parked aggregates, the oldest (default: every one; `parkedCount`
   *   counts them all either way).
   * @returns Their records, by name.
   */
  records(
    names?: readonly string[],
    options?: { readonly parkedLimit?: number | undefined },
  ): Promise<ProcessorRecord[]>;
}
