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

/** One row per event the log projector handled: twice would fail. */
export const asyncEventLog = table("async_event_log", {
  aggregateId: column.uuid().primaryKey(),
  sequenceNumber: column.integer().primaryKey(),
});

/**
 * Inserts a row per Post event, keyed by aggregate and sequence number: an
 * event handled twice (two holders at once, a batch stored twice) fails
 * its insert and sets its aggregate aside, which the tests look for.
 */
export class AsyncEventLogProjector extends Projector {
  static override readonly manages = [asyncEventLog];
  static {
    for (const type of [PostAdded, PostTitleChanged]) {
      this.on(type, (p, e) =>
        p.createRecord(asyncEventLog, {
          aggregateId: e.aggregateId,
          sequenceNumber: e.sequenceNumber,
        }));
    }
  }
}

/** The polling pauses of these tests' processors. */
export const POLL_MS = { min: 5, max: 100 } as const;

/** The app on `url`, its event store in `schema`. */
export function asyncAppConfig(
  url: string,
  schema: string,
  leaseMs = 2_000,
): AppConfig {
  return {
    database: url,
    eventStoreSchema: schema,
    viewSchema: `${schema}_view`,
    commandHandlers: [new PostCommandHandler()],
    processors: [AsyncTitleProjector, AsyncEventLogProjector],
    processorOptions: { pollMs: POLL_MS, leaseMs },
    migrations: { 1: [AsyncTitleProjector, AsyncEventLogProjector] },
    logger: silentLogger,
  };
}
