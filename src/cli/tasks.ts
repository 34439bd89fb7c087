/**
 * `sequent db …`, `sequent migrate …` and `sequent snapshots …`: they need
 * the app's configuration, so they check their arguments and then run the
 * app's `sequent.ts` (`deno run -A sequent.ts <the same arguments>`), which
 * does the work with `runTasks` from `@sequent/core/tasks`.
 *
 * @module
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { CliError, UsageError } from "./errors.ts";
import { HELP, USAGE } from "./help.ts";
import type { CliIo } from "./io.ts";
import {
  type FlagSpec,
  missing,
  parseCommand,
  reportErrors,
  unexpected,
} from "./report.ts";

/**
 * How {@linkcode tasksCommand} runs the app's `sequent.ts`: given the
 * app's folder and the arguments for `sequent.ts`, resolves to its exit
 * code. By default `deno run -A sequent.ts …` with inherited standard
 * input and output.
 *
 * @example A runner that only records what it was asked
 * ```ts
 * import type { TaskRunner } from "./tasks.ts";
 *
 * const calls: string[][] = [];
 * const run: TaskRunner = (_cwd, args) => {
 *   calls.push([...args]);
 *   return Promise.resolve(0);
 * };
 * ```
 */
export type TaskRunner = (
  cwd: string,
  args: readonly string[],
) => Promise<number>;

/** The subcommands of each task command, and the flags each takes. */
const COMMANDS: Readonly<
  Record<string, Readonly<Record<string, Readonly<Record<string, FlagSpec>>>>>
> = {
  db: {
    "create": {},
    "drop": { yes: { type: "boolean", short: "y" } },
    "create-event-store": {},
    "create-view-schema": {},
  },
  migrate: {
    "": {},
    "online": {},
    "catchup": {},
    "offline": {},
    "status": {},
  },
  snapshots: { "take": { limit: { type: "string" } }, "delete-all": {} },
  processors: {
    "run": {},
    "status": {},
    "retry": {},
    "skip": {},
    "reset": { yes: { type: "boolean", short: "y" } },
  },
  browse: {
    "": {
      port: { type: "string" },
      host: { type: "string" },
      masked: { type: "boolean" },
      nats: { type: "string" },
      stream: { type: "string" },
      prefix: { type: "string" },
      relay: { type: "string" },
    },
  },
};

/** The operands a subcommand takes after its name (none unless listed). */
const OPERANDS: Readonly<Record<string, readonly string[]>> = {
  "processors retry": ["processor", "aggregate-id"],
  "processors skip": ["processor", "aggregate-id"],
  "processors reset": ["processor"],
};

/** Every flag of a command's subcommands. */
function allFlags(
  subcommands: Readonly<Record<string, Readonly<Record<string, FlagSpec>>>>,
): Record<string, FlagSpec> {
  const all: Record<string, FlagSpec> = {};
  for (const flags of Object.values(subcommands)) Object.assign(all, flags);
  return all;
}

/**
 * The subcommand named in `args`: the first positional argument, found
 * with every flag of the command known (so the value of `--port 8002` or
 * `--limit 5` is not taken for one), if it names a subcommand. Whether
 * that subcommand takes the flags given is checked afterwards.
 */
function subcommandOf(
  args: readonly string[],
  subcommands: Readonly<Record<string, Readonly<Record<string, FlagSpec>>>>,
): string | undefined {
  const { positionals } = parseArgs({
    args: [...args],
    options: allFlags(subcommands),
    allowPositionals: true,
    strict: false,
  });
  const first = positionals[0];
  return first !== undefined && first !== "" && first in subcommands
    ? first
    : undefined;
}

/**
 * Runs `deno run -A sequent.ts <args>` in `cwd` with inherited standard
 * streams. SIGINT and SIGTERM sent to this process are passed on to it,
 * and this process waits for it to end: a supervisor stopping the CLI
 * stops the task, which releases the database, instead of leaving it
 * running without a parent.
 *
 * @param cwd The app's folder.
 * @param args The arguments for `sequent.ts`.
 * @returns Its exit code (128 + the signal's number if a signal ended it).
 *
 * @example
 * ```ts ignore
 * import { runSequentTs } from "./tasks.ts";
 *
 * Deno.exit(await runSequentTs(Deno.cwd(), ["migrate", "status"]));
 * ```
 */
export async function runSequentTs(
  cwd: string,
  args: readonly string[],
): Promise<number> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "sequent.ts", ...args],
    cwd,
    stdin: "inherit",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  const stopForwarding = forwardSignals(child);
  try {
    return (await child.status).code;
  } finally {
    stopForwarding();
  }
}

/** The signals {@linkcode runSequentTs} passes on to `sequent.ts`. */
const FORWARDED = ["SIGINT", "SIGTERM"] as const;

/**
 * Passes SIGINT and SIGTERM on to `child` until the returned function is
 * called. Listening also keeps them from ending this process before the
 * child has stopped. A Ctrl-C in a terminal reaches the child too, so it
 * may get SIGINT twice; the tasks take a repeat that follows at once for
 * the same signal (see `runTasks`).
 */
function forwardSignals(child: Deno.ChildProcess): () => void {
  // On Windows, Ctrl-C reaches every process of the console, and neither
  // SIGTERM nor sending SIGINT to a process is supported.
  if (Deno.build.os === "windows") return () => {};
  const removals = FORWARDED.map((signal) => {
    const forward = () => {
      try {
        child.kill(signal);
      } catch {
        // it has just ended: its status tells the rest
      }
    };
    Deno.addSignalListener(signal, forward);
    return () => Deno.removeSignalListener(signal, forward);
  });
  return () => {
    for (const remove of removals) remove();
  };
}

/**
 * `sequent db|migrate|snapshots|processors …`: checks the subcommand, its
 * operands and flags, asks before `db drop` and `processors reset` (unless
 * `--yes`), and runs the app's `sequent.ts`
 * in `cwd` with the same arguments (plus `--yes` once a drop is
 * confirmed).
 *
 * @param cwd The app's folder, holding `sequent.ts`.
 * @param args The whole command, e.g. `["snapshots", "take", "--limit", "10"]`.
 * @param io Where to write and how to ask.
 * @param run How to run `sequent.ts` (for tests).
 * @returns The exit code: `sequent.ts`'s, or 1 for an error, 2 for wrong usage.
 *
 * @example Outside an app's folder
 * ```ts
 * import { tasksCommand } from "./tasks.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const err: string[] = [];
 * const io = { stdout: () => {}, stderr: (t: string) => err.push(t), confirm: () => Promise.resolve(false) };
 * console.assert((await tasksCommand(dir, ["migrate"], io)) === 1);
 * console.assert(err[0]?.startsWith("error: No sequent.ts in"));
 * await Deno.remove(dir);
 * ```
 */
export function tasksCommand(
  cwd: string,
  args: readonly string[],
  io: CliIo,
  run: TaskRunner = runSequentTs,
): Promise<number> {
  return reportErrors(io, args, async () => {
    const [command = "", ...rest] = args;
    const subcommands = COMMANDS[command];
    if (subcommands === undefined) {
      throw new UsageError(`Unknown command "${command}"`, USAGE);
    }
    const peek = subcommandOf(rest, subcommands);
    const key = peek === undefined ? command : `${command} ${peek}`;
    // (without a subcommand, a flag of one is not what is wrong)
    const flags = subcommands[peek ?? ""] ?? allFlags(subcommands);
    const { positionals, values } = parseCommand(key, rest, flags);
    if (values.help) {
      io.stdout(HELP[key] ?? "");
      return 0;
    }
    const named = Object.keys(subcommands).filter((s) => s !== "");
    // (a command without subcommands, browse, takes no operand at all)
    const sub = named.length === 0 ? undefined : positionals[0];
    const extra = named.length === 0 ? positionals : positionals.slice(1);
    if (sub === undefined) {
      if (!("" in subcommands)) {
        throw missing(
          command,
          `the ${command} command: ${Object.keys(subcommands).join(", ")}`,
        );
      }
    } else if (!(sub in subcommands) || sub === "") {
      throw new UsageError(
        `Unknown ${command} command "${sub}": use ${named.join(", ")}`,
        HELP[command] ?? "",
      );
    }
    const operands = OPERANDS[key] ?? [];
    if (extra.length > operands.length) {
      throw unexpected(key, extra.slice(operands.length));
    }
    if (extra.length < operands.length) {
      throw missing(key, `<${operands[extra.length]}>`);
    }
    if (values.limit !== undefined) {
      const limit = String(values.limit);
      if (!/^[1-9][0-9]*$/.test(limit)) {
        throw new CliError(
          `--limit must be a positive whole number, not "${limit}"`,
        );
      }
    }
    try {
      await Deno.stat(join(cwd, "sequent.ts"));
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      throw new CliError(
        `No sequent.ts in ${cwd}: run "sequent ${key}" in an app's folder (one made by "sequent new")`,
      );
    }
    const forwarded = [...args];
    if (command === "processors" && sub === "reset" && !values.yes) {
      const yes = await io.confirm(
        `Start processor ${
          extra[0]
        } of the app in ${cwd} over from the first event (a projector's tables are emptied)?`,
      );
      if (!yes) {
        io.stderr("Not reset: not confirmed (pass --yes to skip the question)");
        return 1;
      }
      forwarded.push("--yes");
    }
    if (command === "db" && sub === "drop" && !values.yes) {
      const yes = await io.confirm(
        `Drop the database of the app in ${cwd}, with all its events and records?`,
      );
      if (!yes) {
        io.stderr(
          "Not dropped: not confirmed (pass --yes to skip the question)",
        );
        return 1;
      }
      forwarded.push("--yes");
    }
    return await run(cwd, forwarded);
  });
}
