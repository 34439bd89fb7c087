/**
 * Running a command: parsing its flags with `node:util` `parseArgs`, and
 * turning what it throws into one line on standard error and an exit code.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { CliError, UsageError } from "./errors.ts";
import { HELP } from "./help.ts";
import type { CliIo } from "./io.ts";

/**
 * Runs a command body and reports its failure: a {@linkcode UsageError}
 * prints its message and the command's usage (exit 2); any other error
 * prints one line, `error: <message>` (exit 1), with the stack trace when
 * `args` holds `--verbose`.
 *
 * @param io Where to write.
 * @param args The command's arguments (only checked for `--verbose`).
 * @param body The command; resolves to its exit code.
 * @returns The exit code.
 *
 * @example
 * ```ts
 * import { CliError } from "./errors.ts";
 * import { reportErrors } from "./report.ts";
 *
 * const lines: string[] = [];
 * const io = { stdout: () => {}, stderr: (t: string) => lines.push(t), confirm: () => Promise.resolve(false) };
 * const code = await reportErrors(io, [], () => { throw new CliError("No app.ts here"); });
 * console.assert(code === 1 && lines[0] === "error: No app.ts here");
 * ```
 */
export async function reportErrors(
  io: CliIo,
  args: readonly string[],
  body: () => number | Promise<number>,
): Promise<number> {
  try {
    return await body();
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`error: ${error.message}\n\n${error.usage}`);
      return error.exitCode;
    }
    const message = error instanceof Error ? error.message : String(error);
    io.stderr(`error: ${message.split("\n")[0]}`);
    if (args.includes("--verbose") && error instanceof Error && error.stack) {
      io.stderr(error.stack);
    }
    return error instanceof CliError ? error.exitCode : 1;
  }
}

/**
 * A flag a command accepts, as `parseArgs` takes it.
 *
 * @example
 * ```ts
 * import type { FlagSpec } from "./report.ts";
 *
 * const yes: FlagSpec = { type: "boolean", short: "y" };
 * ```
 */
export interface FlagSpec {
  /** `"boolean"` for a switch, `"string"` for a flag with a value. */
  readonly type: "boolean" | "string";
  /** A one-letter alias. */
  readonly short?: string;
}

/**
 * What {@linkcode parseCommand} found: the positional arguments and the
 * flags' values.
 *
 * @example
 * ```ts
 * import type { ParsedCommand } from "./report.ts";
 *
 * const parsed: ParsedCommand = { positionals: ["blog"], values: { verbose: true } };
 * ```
 */
export interface ParsedCommand {
  /** The positional arguments. */
  readonly positionals: string[];
  /** The flags given, by name. */
  readonly values: Record<string, string | boolean | undefined>;
}

/**
 * Parses a command's arguments strictly. `--help`/`-h` and `--verbose` are
 * always accepted; an unknown flag is a {@linkcode UsageError} showing the
 * help of `command`.
 *
 * @param command The command's words, a key of `HELP` (`"db drop"`).
 * @param args The arguments after the command's words.
 * @param flags The command's own flags.
 * @returns The positionals and the flags' values.
 * @throws {UsageError} for an unknown flag or a flag without its value.
 *
 * @example
 * ```ts
 * import { parseCommand } from "./report.ts";
 *
 * const { values } = parseCommand("snapshots take", ["--limit", "5"], {
 *   limit: { type: "string" },
 * });
 * console.assert(values.limit === "5");
 * ```
 */
export function parseCommand(
  command: string,
  args: readonly string[],
  flags: Readonly<Record<string, FlagSpec>> = {},
): ParsedCommand {
  try {
    const { positionals, values } = parseArgs({
      args: [...args],
      options: {
        help: { type: "boolean", short: "h" },
        verbose: { type: "boolean" },
        ...flags,
      },
      allowPositionals: true,
      strict: true,
    });
    return { positionals, values };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new UsageError(
      parseErrorMessage(message),
      HELP[command] ?? "",
    );
  }
}

/** `parseArgs`' message, made one sentence-case line naming the flag. */
function parseErrorMessage(message: string): string {
  const unknown = /Unknown option '([^']+)'/.exec(message)?.[1];
  if (unknown !== undefined) return `Unknown flag "${unknown}"`;
  const flag = /Option '(?:-\w, )?(--[\w-]+)[^']*' argument missing/.exec(
    message,
  )?.[1];
  if (flag !== undefined) return `Flag "${flag}" needs a value`;
  const noValue = /Option '(?:-\w, )?(--[\w-]+)' does not take an argument/
    .exec(message)?.[1];
  if (noValue !== undefined) return `Flag "${noValue}" takes no value`;
  return message.split("\n")[0] ?? message;
}

/**
 * The usage error for a missing argument.
 *
 * @param command The command's words, a key of `HELP`.
 * @param what What is missing, e.g. `"the app's name"`.
 * @returns The error to throw.
 *
 * @example
 * ```ts
 * import { missing } from "./report.ts";
 *
 * console.assert(missing("new", "the app's name").message === "Missing the app's name");
 * ```
 */
export function missing(command: string, what: string): UsageError {
  return new UsageError(`Missing ${what}`, HELP[command] ?? "");
}

/**
 * The usage error for arguments a command does not take.
 *
 * @param command The command's words, a key of `HELP`.
 * @param extra The unexpected arguments.
 * @returns The error to throw.
 *
 * @example
 * ```ts
 * import { unexpected } from "./report.ts";
 *
 * console.assert(unexpected("new", ["x"]).message === 'Unexpected argument "x"');
 * ```
 */
export function unexpected(
  command: string,
  extra: readonly string[],
): UsageError {
  const list = extra.map((arg) => `"${arg}"`).join(", ");
  return new UsageError(
    `Unexpected argument${extra.length > 1 ? "s" : ""} ${list}`,
    HELP[command] ?? "",
  );
}
