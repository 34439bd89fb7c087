/**
 * The `sequent` command line of Sequent for Deno: scaffolds an app, adds
 * aggregates, commands and events to it, and runs its database, migration
 * and snapshot tasks.
 *
 * ```sh
 * deno run -A jsr:@sequent/cli new blog
 * cd blog
 * deno task migrate
 * deno test
 * ```
 *
 * Run `deno run -A jsr:@sequent/cli --help` for all commands. The
 * functions below run the same commands from code, e.g. in tests.
 *
 * @example
 * ```ts
 * import { runCli } from "./cli.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const lines: string[] = [];
 * const io = {
 *   stdout: (text: string) => lines.push(text),
 *   stderr: (text: string) => lines.push(text),
 *   confirm: () => Promise.resolve(false),
 * };
 * console.assert((await runCli(dir, ["new", "blog"], io)) === 0);
 * console.assert((await runCli(`${dir}/blog`, ["g", "aggregate", "Author"], io)) === 0);
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */
import { type CliIo, terminalIo } from "./src/cli/io.ts";
import { type CliOptions, runCli } from "./src/cli/main.ts";

export { USAGE } from "./src/cli/help.ts";
export type { NewOptions } from "./src/cli/new.ts";
export type { TaskRunner } from "./src/cli/tasks.ts";
export { VERSION } from "./src/cli/version.ts";
export { type CliIo, type CliOptions, runCli, terminalIo };

/**
 * Runs the CLI in this process's working directory, on its terminal, and
 * returns the exit code (what `deno run -A jsr:@sequent/cli …` does, then
 * exits with it).
 *
 * @param args The command-line arguments.
 * @returns The process exit code: 0 done, 1 error, 2 wrong usage.
 *
 * @example
 * ```ts
 * import { main } from "./cli.ts";
 *
 * console.assert((await main(["--version"])) === 0);
 * ```
 */
export function main(args: readonly string[]): Promise<number> {
  return runCli(Deno.cwd(), args, terminalIo());
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
