/**
 * The unit of work: everything one `executeCommands` call does, in one
 * transaction, with its own identity map and command queue. It travels with
 * the async context, so concurrent calls never share state, and command
 * handlers, projectors and workflows reach it without passing it around.
 *
 * @module
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { AggregateRepository } from "./aggregate_repository.ts";
import type { Command } from "./command.ts";
import type { DryRunReport } from "./dry_run.ts";
import { SequentError } from "./errors.ts";
import type { Event } from "./event.ts";
import type { EventStoreTransaction } from "./event_store.ts";
import type { Logger } from "./logger.ts";

/** A callback to run once the unit's transaction has committed. */
export interface AfterCommitCallback {
  readonly run: () => unknown;
  readonly ignoreErrors: boolean;
  readonly description: string;
}

/** One unit of work's state. */
export interface Unit {
  /** The command service running the unit. */
  readonly owner: object;
  readonly repository: AggregateRepository;
  readonly transaction: EventStoreTransaction;
  readonly queue: Command[];
  readonly afterCommit: AfterCommitCallback[];
  readonly logger: Logger;
  /** Extra per-unit state other modules attach (record persistors, …). */
  readonly slots: Map<symbol, unknown>;
  /** The event whose handlers are running, for causation. */
  currentEvent: Event | undefined;
  /** Set once the unit has finished; later access is an error. */
  ended: boolean;
  /** Set for dry runs: records events and handlers instead of running them. */
  readonly dryRun?: DryRunReport | undefined;
  /** Stops the unit between steps once it aborts (a timeout, the caller). */
  readonly signal?: AbortSignal | undefined;
  /**
   * Gives commands without an id of their own one (a processor's derived
   * ids); unset: each gets a new id.
   */
  commandIds?: (() => string) | undefined;
  /** The trace context of the command being processed, when traced. */
  traceparent?: string | undefined;
  /**
   * The trace context of the inline dispatch running, when traced: the
   * parent of the commands its workflows issue.
   */
  dispatchTraceparent?: string | undefined;
  /** The commands issued in an inline dispatch, with its trace context. */
  issuedIn?: Map<Command, string> | undefined;
  /** Set when the unit is traced (see {@linkcode UnitTrace}). */
  trace?: UnitTrace | undefined;
}

/** What a traced unit keeps for its spans. */
export interface UnitTrace {
  /**
   * Whether the unit's span is its first command's, not yet taken by it;
   * `firstTraceparent` is then that span's context.
   */
  first: boolean;
  readonly firstTraceparent: string | undefined;
  /** Events and aggregates the unit's commits store so far. */
  events: number;
  aggregates: number;
}

const storage = new AsyncLocalStorage<Unit>();

/** Runs `work` with `unit` as the current unit of work. */
export function runInUnit<T>(unit: Unit, work: () => Promise<T>): Promise<T> {
  return storage.run(unit, work);
}

/**
 * Queues a command issued inside the unit (by a workflow, or a nested
 * `executeCommands`) to run after the one being executed; issued in a
 * traced inline dispatch, it keeps that dispatch's context as its span's
 * parent.
 */
export function enqueue(unit: Unit, command: Command): void {
  unit.queue.push(command);
  const parent = unit.dispatchTraceparent;
  if (parent !== undefined) (unit.issuedIn ??= new Map()).set(command, parent);
}

/** The unit of work in progress, if any. */
export function activeUnit(): Unit | undefined {
  const unit = storage.getStore();
  return unit && !unit.ended ? unit : undefined;
}

/**
 * The unit of work in progress.
 *
 * @throws {SequentError} outside `executeCommands`.
 */
export function currentUnit(what: string): Unit {
  const unit = storage.getStore();
  if (!unit) {
    throw new SequentError(
      `${what} is only available while commands execute (inside executeCommands)`,
    );
  }
  if (unit.ended) {
    throw new SequentError(
      `${what} was used after its unit of work ended (an un-awaited promise?)`,
    );
  }
  return unit;
}
