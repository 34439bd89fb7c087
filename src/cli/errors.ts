/**
 * The two ways a CLI command fails: an error (exit 1) and a usage mistake
 * (exit 2).
 *
 * @module
 */

/**
 * A failure the user can fix, reported as one line without a stack trace;
 * the CLI exits with 1.
 *
 * @example
 * ```ts
 * import { CliError } from "./errors.ts";
 *
 * const error = new CliError(`Folder "blog" already exists`);
 * console.assert(error.exitCode === 1);
 * ```
 */
export class CliError extends Error {
  /** The process exit code: 1. */
  readonly exitCode: number = 1;

  /**
   * Creates the error.
   *
   * @param message One line, sentence case, naming the bad value.
   * @param options The cause, if any.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "CliError";
  }
}

/**
 * A command line that does not fit the command's usage (an unknown command
 * or flag, a missing or extra argument); the CLI prints the message and the
 * command's usage, and exits with 2.
 *
 * @example
 * ```ts
 * import { UsageError } from "./errors.ts";
 *
 * const error = new UsageError(`Unknown command "frobnicate"`, "sequent --help");
 * console.assert(error.exitCode === 2 && error.usage === "sequent --help");
 * ```
 */
export class UsageError extends Error {
  /** The process exit code: 2. */
  readonly exitCode: number = 2;
  /** The usage text of the command that was misused. */
  readonly usage: string;

  /**
   * Creates the error.
   *
   * @param message One line naming what was wrong.
   * @param usage The usage text to print after it.
   */
  constructor(message: string, usage: string) {
    super(message);
    this.name = "UsageError";
    this.usage = usage;
  }
}
