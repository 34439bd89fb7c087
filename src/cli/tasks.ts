/**
 * `sequent db …`, `sequent migrate …` and `sequent snapshots …`: they need
 * the app's configuration, so they check their arguments and then run the
 * app's `sequent.ts` (`deno run -A sequent.ts <the same arguments>`), which
 * does the work with `runTasks` from `@sequent/core/tasks`.
 *
 * @module
 */
import { join } from "node:path";
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
    },
  },
};

/** The operands a subcommand takes after its name (none unless listed). */
const OPERANDS: Readonly<Record<string, readonly string[]>> = {
  "processors retry": ["processor", "aggregate-id"],
  "processors skip": ["processor", "aggregate-id"],
  "processors reset": ["processor"],
};

/**
 * Runs `deno run -A sequent.ts <args>` in `cwd` with inherited standard
 * streams.
 *
 * @param cwd The app's folder.
 * @param args The arguments for `sequent.ts`.
 * @returns Its exit code.
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
  return (await child.status).code;
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
    const peek = rest.find((arg) => !arg.startsWith("-"));
    const key = peek !== undefined && peek in subcommands
      ? `${command} ${peek}`
      : command;
    const flags = peek !== undefined
      ? subcommands[peek] ?? {}
      : subcommands[""] ?? {};
    const { positionals, values } = parseCommand(key, rest, flags);
    if (values.help) {
      io.stdout(HELP[key] ?? "");
      return 0;
    }
    const [sub, ...extra] = positionals;
    if (sub === undefined) {
      if (!("" in subcommands)) {
        throw missing(
          command,
          `the ${command} command: ${Object.keys(subcommands).join(", ")}`,
        );
      }
    } else if (!(sub in subcommands) || sub === "") {
      throw new UsageError(
        `Unknown ${command} command "${sub}": use ${
          Object.keys(subcommands).filter((s) => s !== "").join(", ")
        }`,
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
