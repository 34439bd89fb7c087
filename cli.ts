/**
 * The `sequent` command line: scaffolds applications and runs their
 * database, migration and snapshot tasks.
 *
 * ```sh
 * deno run -A jsr:@sequent/cli new blog
 * ```
 *
 * @module
 */

/** The usage text the CLI prints. */
export const USAGE: string = `Usage: sequent <command> [options]

Commands:
  new <name>                 Scaffold a new application in ./<name>
  generate aggregate <Name>  Add an aggregate with a command and an event
  generate command <Aggregate> <Command> [attr:type ...]
  generate event <Aggregate> <Event> [attr:type ...]
  db create | drop | create-event-store | create-view-schema
  migrate [online | offline | status]
  snapshots take [--limit N] | delete-all

Options:
  -h, --help     Show help for a command
  --verbose      Print stack traces on errors
`;

/**
 * Runs the CLI with the given arguments and returns the exit code.
 *
 * @param args The command-line arguments.
 * @returns The process exit code.
 *
 * @example
 * ```ts
 * import { main } from "./cli.ts";
 *
 * console.assert((await main(["--help"])) === 0);
 * ```
 */
export function main(args: readonly string[]): Promise<number> {
  if (args.length === 0 || args[0] === "--help" || args[0] === "-h") {
    console.log(USAGE);
    return Promise.resolve(0);
  }
  console.error(`Unknown command "${args[0]}"\n\n${USAGE}`);
  return Promise.resolve(2);
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
