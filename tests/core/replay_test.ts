/**
 * Replays through the `ReplayReader` port: on every store (memory, PGlite,
 * the server), replaying the stored events into fresh tables rebuilds,
 * row for row, what inline projection built while the commands ran, also
 * when the replay is done in two parts on either side of a boundary.
 */
import assert from "node:assert/strict";
import {
  CommandService,
  type EventStore,
  InMemoryRecordStore,
  type Projector,
  type RecordStore,
  type RecordTable,
  replayProjectors,
  type SerializedEvent,
} from "@sequent/core";
import type { ReplayReader } from "@sequent/core/internal";
import {
  execute,
  Mig_Item,
  Mig_ItemCommandHandler,
  Mig_ItemProjector,
  Mig_NameProjector,
  migGroups,
  migItems,
  migNames,
  migTags,
  workload,
} from "../postgres/_migration_domain.ts";
import { storeBackends } from "../postgres/_store_backends.ts";

const TABLES: readonly RecordTable[] = [migItems, migTags, migGroups, migNames];
const shared = { sanitizeOps: false, sanitizeResources: false };
const { list, disposeAtEnd } = storeBackends();

/** A value as text that does not depend on key order (jsonb sorts keys). */
function canonical(value: unknown): unknown {
  if (typeof value === "bigint") return `${value}n`;
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map(canonical);
  if (Object.getPrototypeOf(value) !== Object.prototype) {
    return String(value); // Date, Decimal, CalendarDate
  }
  return Object.entries(value).sort(([a], [b]) => a < b ? -1 : 1)
    .map(([key, item]) => [key, canonical(item)]);
}

/** Every table's rows, each as canonical text, sorted. */
async function rows(records: RecordStore): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const table of TABLES) {
    out[table.name] = (await records.find(table, {}))
      .map((row) => JSON.stringify(canonical(row))).sort();
  }
  return out;
}

function service(store: EventStore, projectors: Projector[]): CommandService {
  return new CommandService({
    eventStore: store,
    commandHandlers: [new Mig_ItemCommandHandler()],
    eventHandlers: projectors,
    aggregates: [Mig_Item],
  });
}

/** The same projectors, new, for a replay. */
function fresh(): Projector[] {
  return [new Mig_ItemProjector(), new Mig_NameProjector()];
}

/**
 * Replays into fresh tables, in one part or in two on either side of a
 * boundary taken before the last `late` units. On a shared server a
 * transaction running elsewhere holds the boundary back for a moment: the
 * replay is then done again until it has seen every event.
 */
async function replayAll(
  store: EventStore & ReplayReader,
  serializer: CommandService["serializer"],
  expected: number,
  boundary?: string,
): Promise<{ events: number; records: InMemoryRecordStore }> {
  for (let tries = 0;; tries++) {
    const records = new InMemoryRecordStore();
    const options = { projectors: fresh(), serializer, records };
    let events: number;
    if (boundary === undefined) {
      ({ events } = await replayProjectors(store, options));
    } else {
      const first = await replayProjectors(store, {
        ...options,
        upTo: boundary,
      });
      const second = await replayProjectors(store, {
        ...options,
        after: boundary,
      });
      events = first.events + second.events;
    }
    if (events >= expected || tries === 100) return { events, records };
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

for (const b of list) {
  const test = (name: string, fn: () => Promise<void>) =>
    Deno.test({ name: `${b.name}: ${name}`, ...shared, fn });

  test("a replay through the reader rebuilds, row for row, the tables inline projection built", async () => {
    const store = await b.emptyStore(TABLES) as EventStore & ReplayReader;
    const inline = service(store, fresh());
    const { units, events } = workload(20_261_203, {
      aggregates: 150,
      events: 1500,
    });
    await execute(inline, units);
    const built = await rows(store.records);
    assert.ok(built.mig_items!.length > 0 && built.mig_tags!.length > 0);

    const whole = await replayAll(store, inline.serializer, events);
    assert.equal(whole.events, events);
    assert.deepEqual(await rows(whole.records), built);
  });

  test("a replay up to a boundary, then one after it, rebuild the same tables as one replay", async () => {
    const store = await b.emptyStore(TABLES) as EventStore & ReplayReader;
    const inline = service(store, fresh());
    const { units, events } = workload(7_031, { aggregates: 60, events: 600 });
    const half = Math.floor(units.length / 2);
    await execute(inline, units.slice(0, half));
    const boundary = await store.replayBoundary();
    await execute(inline, units.slice(half));
    const built = await rows(store.records);
    const parts = await replayAll(store, inline.serializer, events, boundary);
    assert.equal(parts.events, events);
    assert.deepEqual(await rows(parts.records), built);
  });

  test("betweenAggregates is called before each aggregate's first event, given the last event handled before it", async () => {
    const store = await b.emptyStore(TABLES) as EventStore & ReplayReader;
    const inline = service(store, fresh());
    const { units } = workload(42, { aggregates: 12, events: 80 });
    await execute(inline, units);
    const delivered: SerializedEvent[] = [];
    const reader: ReplayReader = {
      replayBoundary: () => store.replayBoundary(),
      async *replayEvents(options) {
        for await (const batch of store.replayEvents(options)) {
          delivered.push(...batch);
          yield batch;
        }
      },
    };
    const calls: (SerializedEvent | undefined)[] = [];
    const { events } = await replayProjectors(reader, {
      projectors: fresh(),
      serializer: inline.serializer,
      records: new InMemoryRecordStore(),
      betweenAggregates: (previous) => {
        calls.push(previous);
        return undefined;
      },
    });
    assert.equal(events, delivered.length);
    const expected = delivered.flatMap((event, i) =>
      i === 0 || delivered[i - 1]!.aggregateId !== event.aggregateId
        ? [delivered[i - 1]]
        : []
    );
    assert.ok(expected.length > 1);
    assert.deepEqual(calls, expected);
  });
}
disposeAtEnd();
