/**
 * The `sequent` command line: routes a command to its function.
 *
 * @module
 */
import { UsageError } from "./errors.ts";
import { generateCommand } from "./generate.ts";
import { HELP, USAGE } from "./help.ts";
import type { CliIo } from "./io.ts";
import { newCommand, type NewOptions } from "./new.ts";
import { reportErrors } from "./report.ts";
import { runSequentTs, type TaskRunner, tasksCommand } from "./tasks.ts";
import { VERSION } from "./version.ts";

/**
 * Options of {@linkcode runCli}, for tests.
 *
 * @example
 * ```ts
 * import type { CliOptions } from "./main.ts";
 *
 * const options: CliOptions = { runTasks: () => Promise.resolve(0) };
 * ```
 */
export interface CliOptions extends NewOptions {
  /** How the db, migrate, snapshots and processors commands run the app's `sequent.ts`. */
  readonly runTasks?: TaskRunner;
}

/**
 * Runs one `sequent` command line: `new`, `generate` (`g`), `db`,
 * `migrate`, `snapshots`, `help`, or the flags `--help`, `--version`,
 * `--verbose` before the command. See {@linkcode USAGE}.
 *
 * @param cwd The working directory.
 * @param args The arguments, without the program name.
 * @param io Where to write and how to ask.
 * @param options Stand-ins for tests.
 * @returns The exit code: 0 done, 1 error, 2 wrong usage.
 *
 * @example
 * ```ts
 * import { runCli } from "./main.ts";
 *
 * const out: string[] = [];
 * const io = { stdout: (t: string) => out.push(t), stderr: (t: string) => out.push(t), confirm: () => Promise.resolve(false) };
 * console.assert((await runCli(Deno.cwd(), ["--version"], io)) === 0);
 * console.assert(out[0]?.startsWith("sequent "));
 * ```
 */
export function runCli(
  cwd: string,
  args: readonly string[],
  io: CliIo,
  options: CliOptions = {},
): Promise<number> {
  return reportErrors(io, args, () => {
    let verbose = false;
    let i = 0;
    for (; i < args.length && args[i]?.startsWith("-"); i++) {
      switch (args[i]) {
        case "-h":
        case "--help":
          io.stdout(USAGE);
          return 0;
        case "--version":
          io.stdout(`sequent ${VERSION}`);
          return 0;
        case "--verbose":
          verbose = true;
          break;
        default:
          throw new UsageError(`Unknown flag "${args[i]}"`, USAGE);
      }
    }
    const [command, ...rest] = args.slice(i);
    if (command === undefined) {
      throw new UsageError("Missing command, e.g. sequent new blog", USAGE);
    }
    const tail = verbose && !rest.includes("--verbose")
      ? [...rest, "--verbose"]
      : rest;
    switch (command) {
      case "new":
        return newCommand(cwd, tail, io, options);
      case "generate":
      case "g":
        return generateCommand(cwd, tail, io);
      case "db":
      case "migrate":
      case "snapshots":
      case "processors":
      case "browse":
        return tasksCommand(
          cwd,
          [command, ...tail],
          io,
          options.runTasks ?? runSequentTs,
        );
      case "help": {
        const topic = rest.filter((arg) => !arg.startsWith("-"))
          .map((word) => word === "g" ? "generate" : word).join(" ");
        const text = topic === "" ? USAGE : HELP[topic];
        if (text === undefined) {
          throw new UsageError(`No help for "${topic}"`, USAGE);
        }
        io.stdout(text);
        return 0;
      }
      default:
        throw new UsageError(`Unknown command "${command}"`, USAGE);
    }
  });
}
