/**
 * A ledger whose entries record what their writer saw of it (the count of
 * earlier entries and the last writer), and a store whose units' loads are
 * counted: for the aggregate-cache tests, in this process and in children.
 */
import assert from "node:assert/strict";
import {
  AggregateRoot,
  attrs,
  Command,
  CommandHandler,
  Event,
  type EventStore,
} from "@sequent/core";
import type {
  EventStoreTransaction,
  LoadOptions,
} from "@sequent/core/internal";

export class LedgerOpened extends Event.define("CacheLedgerOpened", {}) {}
export class EntryWritten extends Event.define("CacheEntryWritten", {
  writer: attrs.string(),
  sawCount: attrs.integer(),
  sawLast: attrs.string(),
}) {}

export class Ledger extends AggregateRoot {
  count = 0;
  last = "";

  static open(id: string): Ledger {
    const ledger = new Ledger(id);
    ledger.apply(LedgerOpened);
    return ledger;
  }

  write(writer: string): void {
    this.apply(EntryWritten, {
      writer,
      sawCount: this.count,
      sawLast: this.last,
    });
  }

  static {
    this.on(EntryWritten, (ledger, event) => {
      ledger.count++;
      ledger.last = event.writer ?? "";
    });
  }
}

export class OpenLedger extends Command.define("CacheOpenLedger", {}) {}
export class WriteEntry extends Command.define("CacheWriteEntry", {
  writer: attrs.string().required(),
  /** Makes the handler fail after applying its event. */
  fail: attrs.boolean(),
}) {}

export class LedgerHandler extends CommandHandler {
  /**
   * @param afterLoad Awaited by WriteEntry between loading the ledger and
   *   writing to it (to hold a unit there while another runs).
   */
  constructor(readonly afterLoad?: () => Promise<void>) {
    super();
  }

  static {
    this.on(OpenLedger, (handler, command) => {
      handler.repository.addAggregate(Ledger.open(command.aggregateId));
    });
    this.on(WriteEntry, async (handler, command) => {
      const ledger = await handler.repository.loadAggregate(
        command.aggregateId,
        Ledger,
      );
      await handler.afterLoad?.();
      ledger.write(command.writer);
      if (command.fail) throw new Error("the handler failed after applying");
    });
  }
}

/** How a store's units loaded streams: fully, or only what followed. */
export interface Loads {
  full: number;
  after: number;
  /** Events read by loads with `after`. */
  afterEvents: number;
}

/** The store, its units' `loadStreams` calls counted into `loads`. */
export function observed(store: EventStore, loads: Loads): EventStore {
  const tx = (inner: EventStoreTransaction): EventStoreTransaction =>
    new Proxy(inner, {
      get(target, property) {
        if (property === "loadStreams") {
          return async (ids: readonly string[], options?: LoadOptions) => {
            const streams = await target.loadStreams(ids, options);
            if (options?.after) {
              loads.after++;
              for (const s of streams) loads.afterEvents += s.events.length;
            } else {
              loads.full++;
            }
            return streams;
          };
        }
        const value = Reflect.get(target, property, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  return new Proxy(store, {
    get(target, property) {
      if (property === "transaction") {
        return (
          work: (t: EventStoreTransaction) => Promise<unknown>,
          options?: unknown,
        ) =>
          (target.transaction as (
            w: typeof work,
            o?: unknown,
          ) => Promise<unknown>)((t) => work(tx(t)), options);
      }
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/**
 * Fails unless every entry of the ledger saw every entry before it: its
 * count of earlier entries and the writer of the last one.
 */
export async function assertEverySawTheLast(
  store: EventStore,
  id: string,
  entries: number,
): Promise<void> {
  const [stream] = await store.loadStreams([id]);
  assertEntriesSawTheLast(
    stream!.events.map((e) => JSON.parse(e.payload)),
    entries,
  );
}

/**
 * The same check on the payloads of the ledger's events (its opening
 * first).
 */
export function assertEntriesSawTheLast(
  payloads: readonly unknown[],
  entries: number,
): void {
  const written = payloads.slice(1) as {
    writer: string;
    sawCount: number;
    sawLast: string;
  }[];
  assert.equal(written.length, entries);
  written.forEach((entry, i) => {
    assert.equal(entry.sawCount, i, `entry ${i + 1} saw ${entry.sawCount}`);
    assert.equal(entry.sawLast, i === 0 ? "" : written[i - 1]!.writer);
  });
}
