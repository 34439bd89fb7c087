/**
 * `sequent new <name>`: writes the blog app into a new folder.
 *
 * @module
 */
import {
  basename,
  dirname,
  isAbsolute,
  join,
  relative,
  resolve,
} from "node:path";
import { CliError } from "./errors.ts";
import { frameworkSource } from "./framework.ts";
import type { CliIo } from "./io.ts";
import { appName } from "./names.ts";
import { missing, parseCommand, reportErrors, unexpected } from "./report.ts";
import { HELP } from "./help.ts";
import { BLOG_TEMPLATE } from "./templates.ts";

/**
 * Options of {@linkcode newCommand}.
 *
 * @example
 * ```ts
 * import type { NewOptions } from "./new.ts";
 *
 * const options: NewOptions = { moduleUrl: "https://jsr.io/@sequent/cli/0.1.0/src/cli/framework.ts" };
 * ```
 */
export interface NewOptions {
  /**
   * The URL the CLI runs from, which decides where the app gets the
   * framework (see `frameworkSource`); by default the real one.
   */
  readonly moduleUrl?: string;
}

/**
 * `sequent new <name>`: creates the blog app in the folder `<name>`
 * (relative to `cwd`; its last part is the app's name), which must not
 * exist or be empty, and prints the files and the next steps.
 *
 * @param cwd The working directory.
 * @param args The arguments after `new`.
 * @param io Where to write.
 * @param options Where the CLI runs from (for tests).
 * @returns The exit code: 0 done, 1 error, 2 wrong usage.
 *
 * @example
 * ```ts
 * import { newCommand } from "./new.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const out: string[] = [];
 * const io = { stdout: (t: string) => out.push(t), stderr: (t: string) => out.push(t), confirm: () => Promise.resolve(false) };
 * console.assert((await newCommand(dir, ["blog"], io)) === 0);
 * console.assert(out.join("\n").includes("deno task migrate"));
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function newCommand(
  cwd: string,
  args: readonly string[],
  io: CliIo,
  options: NewOptions = {},
): Promise<number> {
  return reportErrors(io, args, async () => {
    const { positionals, values } = parseCommand("new", args);
    if (values.help) {
      io.stdout(HELP["new"] ?? "");
      return 0;
    }
    const [path, ...extra] = positionals;
    if (path === undefined) throw missing("new", "the app's name");
    if (extra.length > 0) throw unexpected("new", extra);
    await createApp(cwd, path, io, options);
    return 0;
  });
}

async function createApp(
  cwd: string,
  path: string,
  io: CliIo,
  options: NewOptions,
): Promise<void> {
  const target = resolve(cwd, path);
  const name = appName(basename(target));
  const existed = await ensureFreeFolder(target, path);
  const source = frameworkSource(options.moduleUrl);
  const placeholders: Record<string, string> = { name, cli: source.cli };
  const created: string[] = [];
  try {
    for (const file of BLOG_TEMPLATE) {
      let text = file.text.replace(
        /\{\{(\w+)\}\}/g,
        (all, key: string) => placeholders[key] ?? all,
      );
      if (file.path === "deno.json") text = withImports(text, source.imports);
      const to = join(target, ...file.path.split("/"));
      await Deno.mkdir(dirname(to), { recursive: true });
      await Deno.writeTextFile(to, text, { createNew: true });
      created.push(file.path);
    }
  } catch (error) {
    // leave nothing half-made behind: remove the folder if this made it
    if (!existed) {
      await Deno.remove(target, { recursive: true }).catch(() => {});
    }
    throw error;
  }
  const shown = isAbsolute(path) ? target : relative(cwd, target) || ".";
  io.stdout(
    `Created the app "${name}" in ${shown}, using ${
      source.kind === "jsr"
        ? `jsr:@sequent/core`
        : `the Sequent checkout in ${source.checkout}`
    }:\n${created.map((file) => `  ${file}`).join("\n")}\n
Next steps:
${shown === "." ? "" : `  cd ${quote(shown)}\n`}  deno task migrate
  deno task test
  deno task start`,
  );
}

/**
 * Refuses a target that exists, unless it is an empty folder; tells
 * whether it exists.
 */
async function ensureFreeFolder(
  target: string,
  shown: string,
): Promise<boolean> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(target);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
  if (!info.isDirectory) {
    throw new CliError(`"${shown}" already exists and is not a folder`);
  }
  for await (const _ of Deno.readDir(target)) {
    throw new CliError(
      `Folder "${shown}" already exists and is not empty: choose another name`,
    );
  }
  return true;
}

/** The template's `deno.json` text with its `imports` filled in. */
function withImports(
  text: string,
  imports: Readonly<Record<string, string>>,
): string {
  const config = JSON.parse(text) as Record<string, unknown>;
  // the framework's, then the template's own (its web packages)
  config.imports = {
    ...imports,
    ...(config.imports as Record<string, string> | undefined),
  };
  return JSON.stringify(config, null, 2) + "\n";
}

function quote(path: string): string {
  return /^[\w./-]+$/.test(path) ? path : `'${path.replaceAll("'", `'\\''`)}'`;
}
