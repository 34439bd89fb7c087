/**
 * A small pluggable logger. The framework traces each command's execution
 * at debug level: validation, handlers, events stored, event handlers
 * reached.
 *
 * @module
 */

/** Log levels, from most to least verbose. */
export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";

const ORDER: Record<LogLevel, number> = {
  debug: 0,
  info: 1,
  warn: 2,
  error: 3,
  silent: 4,
};

/**
 * Where the framework writes what it does. Implement it to route messages to
 * your own logging.
 *
 * @example
 * ```ts
 * import type { Logger } from "@sequent/core";
 *
 * const lines: string[] = [];
 * const logger: Logger = {
 *   enabled: () => true,
 *   log: (level, message) => lines.push(`${level} ${message}`),
 * };
 * ```
 */
export interface Logger {
  /** Whether messages of `level` are written (lets callers skip building them). */
  enabled(level: Exclude<LogLevel, "silent">): boolean;
  /** Writes one message with optional structured fields. */
  log(
    level: Exclude<LogLevel, "silent">,
    message: string,
    fields?: Readonly<Record<string, unknown>>,
  ): void;
}

/**
 * A logger that writes messages at `level` and above to the console.
 *
 * @param level The least severe level written (default `"info"`).
 * @returns The logger.
 *
 * @example
 * ```ts
 * import { consoleLogger } from "@sequent/core";
 *
 * const logger = consoleLogger("warn");
 * console.assert(!logger.enabled("info") && logger.enabled("error"));
 * ```
 */
export function consoleLogger(level: LogLevel = "info"): Logger {
  if (!Object.hasOwn(ORDER, level)) {
    throw new RangeError(`Unknown log level "${level}"`);
  }
  const min = ORDER[level];
  return {
    enabled: (l) => ORDER[l] >= min,
    log: (l, message, fields) => {
      if (ORDER[l] < min) return;
      const line = `[sequent] ${l.toUpperCase()} ${message}`;
      const args = fields && Object.keys(fields).length
        ? [line, fields]
        : [line];
      if (l === "error") console.error(...args);
      else if (l === "warn") console.warn(...args);
      else console.log(...args);
    },
  };
}

/**
 * A logger that writes nothing: the default in tests.
 *
 * @example
 * ```ts
 * import { silentLogger } from "@sequent/core";
 *
 * console.assert(!silentLogger.enabled("error"));
 * ```
 */
export const silentLogger: Logger = {
  enabled: () => false,
  log: () => {},
};
