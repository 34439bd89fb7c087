/**
 * Turns the database errors of a commit into the framework's errors.
 *
 * @module
 */
import {
  AggregateKeyNotUniqueError,
  DuplicateCommandError,
  OptimisticLockError,
} from "../core/errors.ts";
import { SqlError } from "./sql_error.ts";

interface LockDetail {
  readonly aggregateId?: string;
  readonly sequenceNumber?: number;
  readonly expected?: number;
}

interface KeyDetail {
  readonly scope?: string;
  readonly key?: unknown;
  readonly aggregateId?: string;
  readonly aggregateType?: string | null;
}

function parseDetail<T>(detail: string | undefined): T | undefined {
  if (detail === undefined) return undefined;
  try {
    return JSON.parse(detail) as T;
  } catch {
    return undefined;
  }
}

/**
 * Maps `store_commit`'s SQLSTATEs (`SQ001`, `SQ002`), a duplicate event key,
 * a duplicate command id and a deadlock to {@linkcode OptimisticLockError},
 * {@linkcode AggregateKeyNotUniqueError} and
 * {@linkcode DuplicateCommandError}; anything else is returned as is.
 *
 * @param error What the database raised.
 * @param aggregateIds The aggregates of the failed unit, to name in a
 *   deadlock (the database does not say which commit lost).
 */
export function commitError(
  error: unknown,
  aggregateIds: readonly string[],
): unknown {
  if (!(error instanceof SqlError)) return error;
  const options = { cause: error };
  switch (error.code) {
    case "SQ001": {
      const d = parseDetail<LockDetail>(error.detail);
      if (d?.aggregateId === undefined) return error;
      return new OptimisticLockError(
        d.aggregateId,
        d.sequenceNumber,
        d.expected,
        options,
      );
    }
    case "SQ002": {
      const d = parseDetail<KeyDetail>(error.detail);
      if (d?.scope === undefined || d.aggregateId === undefined) return error;
      return new AggregateKeyNotUniqueError(
        d.scope,
        d.key,
        d.aggregateId,
        d.aggregateType ?? "",
        options,
      );
    }
    case "23505": {
      if (error.constraint === "commands_command_id_key") {
        // Key (command_id)=(…) already exists.
        const id = /\(command_id\)=\(([0-9a-f-]{36})\)/.exec(
          error.detail ?? "",
        );
        return new DuplicateCommandError(id?.[1] ?? "", options);
      }
      // Key (partition_key, aggregate_id, sequence_number)=(p, id, n) already exists.
      const m =
        /\(partition_key, aggregate_id, sequence_number\)=\((.*), ([0-9a-f-]{36}), (\d+)\)/
          .exec(error.detail ?? "");
      if (!m) return error;
      return new OptimisticLockError(m[2]!, Number(m[3]), undefined, options);
    }
    case "40P01":
    case "40001": {
      const first = aggregateIds[0];
      return first === undefined
        ? error
        : new OptimisticLockError(first, undefined, undefined, options);
    }
    default:
      return error;
  }
}
