/**
 * Given/when/then tests of projectors: hand them events, then read the
 * rows they wrote.
 *
 * @module
 */
import { AssertionError } from "node:assert";
import { CommandService } from "../core/command_service.ts";
import type { Event } from "../core/event.ts";
import type { EventStore } from "../core/event_store.ts";
import { type Logger, silentLogger } from "../core/logger.ts";
import type { Projector } from "../core/projector.ts";
import type { RecordTable, RowOf, WhereOf } from "../core/record_table.ts";
import { testEventStore } from "./test_store.ts";

/**
 * How to set up a {@linkcode ProjectorSpec}.
 *
 * @example
 * ```ts
 * import type { ProjectorSpecOptions } from "@sequent/core/testing";
 *
 * const options: ProjectorSpecOptions = { projectors: [] };
 * ```
 */
export interface ProjectorSpecOptions {
  /** The projectors under test. */
  readonly projectors: readonly Projector[];
  /** The store (default: in memory, or the database in `DATABASE_URL`). */
  readonly eventStore?: EventStore | undefined;
  /** A logger (default: silent). */
  readonly logger?: Logger | undefined;
}

/**
 * A projector test. Events given with `givenEvents` or `whenEvents` are
 * stored and handed to the projectors, as after a command; `records` reads
 * the rows back.
 *
 * @example
 * ```ts
 * import { column, Event, Projector, table } from "@sequent/core";
 * import { projectorSpec } from "@sequent/core/testing";
 *
 * class NoteAdded extends Event.define("NoteAdded", {}) {}
 * const notes = table("note_records", { aggregateId: column.uuid().primaryKey() });
 * class NoteProjector extends Projector {
 *   static override readonly manages = [notes];
 *   static {
 *     this.on(NoteAdded, (p, e) => p.createRecord(notes, { aggregateId: e.aggregateId }));
 *   }
 * }
 *
 * const spec = projectorSpec({ projectors: [new NoteProjector()] });
 * const aggregateId = crypto.randomUUID();
 * await spec.whenEvents(new NoteAdded({ aggregateId, sequenceNumber: 1 }));
 * const rows = await spec.records(notes);
 * console.assert(rows.length === 1 && rows[0]?.aggregateId === aggregateId);
 * ```
 */
export class ProjectorSpec {
  readonly #options: ProjectorSpecOptions;
  #ready: Promise<CommandService> | undefined;
  /** How many `givenEvents`/`whenEvents` calls have not settled yet. */
  #inFlight = 0;

  /**
   * Creates the spec.
   *
   * @param options The projectors under test.
   */
  constructor(options: ProjectorSpecOptions) {
    this.#options = options;
  }

  /** The command service the events go through (set up on first use). */
  service(): Promise<CommandService> {
    this.#ready ??= (async () => {
      const tables = [
        ...new Set(
          this.#options.projectors.flatMap((p) => [
            ...(p.constructor as typeof Projector).manages,
          ]),
        ),
      ];
      const eventStore = this.#options.eventStore ??
        await testEventStore({ tables });
      return new CommandService({
        eventStore,
        commandHandlers: [],
        eventHandlers: this.#options.projectors,
        logger: this.#options.logger ?? silentLogger,
      });
    })();
    return this.#ready;
  }

  /**
   * Stores events and hands them to the projectors.
   *
   * @param events The events, each aggregate's in sequence order.
   */
  async givenEvents(...events: Event[]): Promise<void> {
    // until it settles, reading rows is a forgotten await
    this.#inFlight++;
    try {
      await this.#store(events);
    } finally {
      this.#inFlight--;
    }
  }

  async #store(events: readonly Event[]): Promise<void> {
    const service = await this.service();
    const streams = new Map<string, Event[]>();
    for (const event of events) {
      const list = streams.get(event.aggregateId) ?? [];
      list.push(event);
      streams.set(event.aggregateId, list);
    }
    await service.commitEvents(
      [...streams.values()].map((list) => ({ events: list })),
    );
  }

  /**
   * The events under test: stored and handed to the projectors, like
   * {@linkcode ProjectorSpec.givenEvents}.
   *
   * @param events The events.
   */
  whenEvents(...events: Event[]): Promise<void> {
    return this.givenEvents(...events);
  }

  /**
   * The rows of a table matching `where` (default: all).
   *
   * @param table The table.
   * @param where Which rows.
   * @throws {AssertionError} while a `givenEvents` or `whenEvents` has not
   * finished (its result was not awaited).
   */
  async records<T extends RecordTable>(
    table: T,
    where: WhereOf<T> = {} as WhereOf<T>,
  ): Promise<RowOf<T>[]> {
    if (this.#inFlight > 0) {
      throw new AssertionError({
        message:
          "records() ran before whenEvents() finished: await spec.whenEvents(…) (and givenEvents) first",
      });
    }
    const service = await this.service();
    return await service.eventStore.records.find(table, where);
  }

  /**
   * The one row of a table matching `where`.
   *
   * @param table The table.
   * @param where Which row.
   * @throws {AssertionError} when there is no such row, or several, or
   * while a `givenEvents` or `whenEvents` has not finished.
   */
  async record<T extends RecordTable>(
    table: T,
    where: WhereOf<T>,
  ): Promise<RowOf<T>> {
    const rows = await this.records(table, where);
    if (rows.length !== 1) {
      throw new AssertionError({
        message: `Expected one row of ${table.name} where ${
          JSON.stringify(where)
        }, found ${rows.length}`,
      });
    }
    return rows[0] as RowOf<T>;
  }
}

/**
 * Creates a {@linkcode ProjectorSpec}.
 *
 * @param options The projectors under test.
 * @returns The spec.
 *
 * @example
 * ```ts
 * import { projectorSpec } from "@sequent/core/testing";
 *
 * const spec = projectorSpec({ projectors: [] });
 * ```
 */
export function projectorSpec(options: ProjectorSpecOptions): ProjectorSpec {
  return new ProjectorSpec(options);
}
