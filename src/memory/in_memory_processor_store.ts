/**
 * The in-memory {@linkcode ProcessorStore}: processors' checkpoints,
 * claims and parked aggregates beside an {@linkcode InMemoryEventStore},
 * for tests and single-process apps. It keeps the port's rules: claims
 * lapse after their time, every new claim gets a larger token, and a
 * commit stores nothing unless its claim is the live one.
 *
 * @module
 */
import type { RecordStore } from "../core/record_store.ts";
import type {
  HorizonBlocker,
  Lease,
  Membership,
  ParkChange,
  ParkedAggregate,
  ParkRequest,
  PartitionClaim,
  ProcessorRecord,
  ProcessorStore,
} from "../core/processor_store.ts";
import type { StreamPosition } from "../core/event_reader.ts";
import { earliestPosition } from "../core/_earliest_position.ts";
import type { InMemoryEventStore } from "./in_memory_event_store.ts";
import { inRecordTurn } from "./_record_turns.ts";

interface Claimable {
  checkpoint: StreamPosition;
  owner: string | undefined;
  token: number;
  expiresAt: number;
}

interface Entry extends Claimable {
  readonly parked: Map<string, ParkedAggregate>;
  /** Its partitions, once claimed partitioned. */
  partitions: Claimable[] | undefined;
  /** Its members and when their entries lapse. */
  readonly members: Map<string, number>;
}

/**
 * Processors' state kept in memory, beside an in-memory event store whose
 * records their projectors write.
 *
 * @example
 * ```ts
 * import { InMemoryEventStore, InMemoryProcessorStore } from "@sequent/core";
 *
 * const store = new InMemoryEventStore();
 * const processors = new InMemoryProcessorStore(store);
 * const lease = await processors.claim("search", "worker-1", 5_000);
 * console.assert(lease !== undefined);
 * console.assert((await processors.claim("search", "worker-2", 5_000)) === undefined);
 * ```
 */
export class InMemoryProcessorStore implements ProcessorStore {
  /** The event store read. */
  readonly reader: InMemoryEventStore;
  readonly #entries = new Map<string, Entry>();

  /**
   * Creates the store.
   *
   * @param store The event store the processors read, whose records their
   *   projectors write.
   */
  constructor(store: InMemoryEventStore) {
    this.reader = store;
  }

  #entry(name: string): Entry {
    let entry = this.#entries.get(name);
    if (!entry) {
      entry = {
        checkpoint: "",
        owner: undefined,
        token: 0,
        expiresAt: 0,
        parked: new Map(),
        partitions: undefined,
        members: new Map(),
      };
      this.#entries.set(name, entry);
    }
    return entry;
  }

  #holds(entry: Entry, lease: Lease): boolean {
    const now = Date.now();
    const held = (c: Claimable, token: number) =>
      c.owner === lease.owner && c.token === token && c.expiresAt > now;
    if (!lease.partitions) return held(entry, lease.token);
    // a claim on no partition holds nothing
    return lease.partitions.length > 0 && lease.partitions.every((c) => {
      const partition = entry.partitions?.[c.partition];
      return partition !== undefined && held(partition, c.token);
    });
  }

  /** {@inheritDoc ProcessorStore.join} */
  join(name: string, member: string, ttlMs: number): Promise<Membership> {
    const members = this.#entry(name).members;
    const now = Date.now();
    members.set(member, now + ttlMs);
    let next: number | undefined;
    for (const [m, expiresAt] of members) {
      if (expiresAt <= now) members.delete(m);
      else if (m !== member && (next === undefined || expiresAt < next)) {
        next = expiresAt;
      }
    }
    return Promise.resolve({
      members: [...members.keys()].sort(),
      partitions: this.reader.partitions,
      nextLapseMs: next === undefined ? undefined : next - now,
    });
  }

  /** {@inheritDoc ProcessorStore.leave} */
  leave(name: string, member: string): Promise<void> {
    this.#entry(name).members.delete(member);
    return Promise.resolve();
  }

  /** {@inheritDoc ProcessorStore.claimPartitions} */
  claimPartitions(
    name: string,
    owner: string,
    partitions: readonly number[],
    ttlMs: number,
  ): Promise<Lease> {
    const entry = this.#entry(name);
    const now = Date.now();
    if (!entry.partitions) {
      // not while it runs unpartitioned: no partition until that claim lapses
      if (entry.owner !== undefined && entry.expiresAt > now) {
        return Promise.resolve({
          owner,
          token: 0,
          checkpoint: "",
          partitions: [],
        });
      }
      // the first claim starts every partition from the processor's
      // checkpoint, and ends the unpartitioned claims for good
      entry.partitions = Array.from({ length: this.reader.partitions }, () => ({
        checkpoint: entry.checkpoint,
        owner: undefined,
        token: 0,
        expiresAt: 0,
      }));
      entry.owner = undefined;
      entry.expiresAt = 0;
      entry.token++;
    }
    const claims: PartitionClaim[] = [];
    for (const n of [...new Set(partitions)].sort((a, b) => a - b)) {
      const c = entry.partitions[n];
      if (!c) continue;
      const live = c.owner !== undefined && c.expiresAt > now;
      if (live && c.owner !== owner) continue;
      if (!live || c.owner !== owner) c.token++;
      c.owner = owner;
      c.expiresAt = now + ttlMs;
      claims.push({ partition: n, token: c.token, checkpoint: c.checkpoint });
    }
    return Promise.resolve({
      owner,
      token: 0,
      checkpoint: earliestPosition(
        this.reader,
        claims.map((c) => c.checkpoint),
      ) ?? "",
      partitions: claims,
    });
  }

  /** {@inheritDoc ProcessorStore.claim} */
  claim(
    name: string,
    owner: string,
    ttlMs: number,
  ): Promise<Lease | undefined> {
    const entry = this.#entry(name);
    // partitioned: its partitions' checkpoints are where it stands
    if (entry.partitions) return Promise.resolve(undefined);
    const now = Date.now();
    const live = entry.owner !== undefined && entry.expiresAt > now;
    if (live && entry.owner !== owner) return Promise.resolve(undefined);
    if (!live || entry.owner !== owner) entry.token++;
    entry.owner = owner;
    entry.expiresAt = now + ttlMs;
    return Promise.resolve({
      owner,
      token: entry.token,
      checkpoint: entry.checkpoint,
    });
  }

  /** {@inheritDoc ProcessorStore.release} */
  release(name: string, lease: Lease): Promise<void> {
    const entry = this.#entry(name);
    if (lease.partitions) {
      for (const c of lease.partitions) {
        const partition = entry.partitions?.[c.partition];
        if (
          partition?.owner === lease.owner && partition.token === c.token
        ) {
          partition.owner = undefined;
          partition.expiresAt = 0;
        }
      }
    } else if (this.#holds(entry, lease)) {
      entry.owner = undefined;
      entry.expiresAt = 0;
    }
    return Promise.resolve();
  }

  /** {@inheritDoc ProcessorStore.commit} */
  commit(
    name: string,
    lease: Lease,
    to: StreamPosition,
    work?: (records: RecordStore) => Promise<void>,
    changes: readonly ParkChange[] = [],
  ): Promise<boolean> {
    // a batch over the same rows as another (a runner whose claim lapsed
    // mid batch, and the one that took it over), or as an inbox's handler:
    // they take turns (see `_record_turns.ts`)
    return inRecordTurn(
      this.reader.records,
      () => this.#commit(name, lease, to, work, changes),
    );
  }

  async #commit(
    name: string,
    lease: Lease,
    to: StreamPosition,
    work: ((records: RecordStore) => Promise<void>) | undefined,
    changes: readonly ParkChange[],
  ): Promise<boolean> {
    const entry = this.#entry(name);
    if (!this.#holds(entry, lease)) return false;
    const records = this.reader.records.begin();
    try {
      if (work) await work(records);
    } catch (error) {
      records.rollback();
      throw error;
    }
    // the claim may have lapsed while the work ran
    if (!this.#holds(entry, lease)) {
      records.rollback();
      return false;
    }
    records.commit();
    for (const change of changes) {
      if ("park" in change) {
        const { aggregateId, sequenceNumber, error } = change.park;
        entry.parked.set(aggregateId, {
          aggregateId,
          sequenceNumber,
          error,
          parkedAt: new Date(),
          request: undefined,
        });
      } else entry.parked.delete(change.unpark);
    }
    if (lease.partitions) {
      for (const c of lease.partitions) {
        const partition = entry.partitions![c.partition]!;
        if (this.reader.comparePositions(partition.checkpoint, to) < 0) {
          partition.checkpoint = to;
        }
      }
    } else entry.checkpoint = to;
    return true;
  }

  /** {@inheritDoc ProcessorStore.request} */
  request(
    name: string,
    aggregateId: string,
    request: ParkRequest,
  ): Promise<boolean> {
    const parked = this.#entry(name).parked;
    const found = parked.get(aggregateId);
    if (!found) return Promise.resolve(false);
    parked.set(aggregateId, { ...found, request });
    return Promise.resolve(true);
  }

  /** {@inheritDoc ProcessorStore.reset} */
  reset(
    name: string,
    work?: (records: RecordStore) => Promise<void>,
  ): Promise<void> {
    return inRecordTurn(this.reader.records, () => this.#reset(name, work));
  }

  async #reset(
    name: string,
    work: ((records: RecordStore) => Promise<void>) | undefined,
  ): Promise<void> {
    const entry = this.#entry(name);
    if (work) {
      const records = this.reader.records.begin();
      try {
        await work(records);
      } catch (error) {
        records.rollback();
        throw error;
      }
      records.commit();
    }
    entry.checkpoint = "";
    entry.partitions = undefined;
    entry.parked.clear();
    entry.owner = undefined;
    entry.expiresAt = 0;
    entry.token++;
  }

  /** {@inheritDoc ProcessorStore.horizonBlocker} */
  horizonBlocker(): Promise<HorizonBlocker | undefined> {
    // a commit here is one synchronous step: nothing is ever in flight
    return Promise.resolve(undefined);
  }

  /** {@inheritDoc ProcessorStore.records} */
  records(
    names?: readonly string[],
    options: { readonly parkedLimit?: number | undefined } = {},
  ): Promise<ProcessorRecord[]> {
    const now = Date.now();
    const out: ProcessorRecord[] = [];
    for (const name of names ?? [...this.#entries.keys()].sort()) {
      const entry = this.#entries.get(name);
      if (!entry) continue;
      // never run: only asked about
      if (
        names === undefined && entry.token === 0 && !entry.partitions &&
        entry.members.size === 0
      ) continue;
      const live = entry.owner !== undefined && entry.expiresAt > now;
      const partitions = (entry.partitions ?? []).map((c, partition) => {
        const held = c.owner !== undefined && c.expiresAt > now;
        return {
          partition,
          checkpoint: c.checkpoint,
          owner: held ? c.owner : undefined,
          leaseExpiresAt: held ? new Date(c.expiresAt) : undefined,
        };
      });
      out.push({
        name,
        checkpoint: entry.partitions
          ? earliestPosition(
            this.reader,
            partitions.map((c) => c.checkpoint),
          ) ?? ""
          : entry.checkpoint,
        owner: live ? entry.owner : undefined,
        leaseExpiresAt: live ? new Date(entry.expiresAt) : undefined,
        parked: [...entry.parked.values()].slice(
          0,
          options.parkedLimit ?? Infinity,
        ),
        parkedCount: entry.parked.size,
        partitions,
        members: [...entry.members].filter(([, at]) => at > now).map(([m]) => m)
          .sort(),
      });
    }
    return Promise.resolve(out);
  }
}
