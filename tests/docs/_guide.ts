/**
 * Runs the guide in `docs/guide/` as a script, so that it cannot rot.
 *
 * A chapter is read as a sequence of fenced blocks; prose is skipped. The
 * conventions (also in `docs/guide/README.md`):
 *
 * - A ```` ```sh ```` block holds commands, one a line (a line ending in
 *   `\` continues on the next; `#` lines are comments). They run in order
 *   with `sh`, stderr merged into stdout, in the current folder, which
 *   starts as an empty temp folder; `cd <dir>` on its own line changes it
 *   for the rest of the guide. `jsr:@sequent/cli` becomes this checkout's
 *   `cli.ts`, so the guide runs offline. Each command must succeed, unless
 *   its line ends in a comment starting with `fails` (`deno test  # fails`),
 *   in which case it must exit non-zero.
 * - A ```` ```text ```` block right after a `sh` block (prose between is
 *   fine) is that block's expected output. Its lines must match a run of
 *   consecutive output lines; blank lines and trailing spaces are ignored,
 *   `…` inside a line matches any text, and a line that is only `…` matches
 *   any number of lines.
 * - A ```` ```ts ignore ```` block names its file on its first line, which
 *   is not part of the code, and says what to do with it (`ignore` keeps
 *   `deno test --doc` from running the block on its own: it is a file of the
 *   app, and this runner checks it there):
 *   - `// lib/post/post.ts`: the whole file, created or replaced;
 *   - `// lib/post/events.ts (add at the end)`: appended to the file;
 *   - `// app.ts (excerpt)`: replaces the part of the file from the
 *     excerpt's first line to its last line, both lines the file has
 *     (compared without indentation; where the first line occurs more than
 *     once, the occurrence followed by most of the excerpt's next lines);
 *   - `// lib/post/post.ts (as generated)`: the file must read exactly so;
 *   - `// app.ts (excerpt, as generated)`: the file must have these lines,
 *     consecutively (compared without indentation).
 *   Paths are relative to the current folder.
 * - Any other block (no language, another language, a `text` block with
 *   no `sh` block before it) is an error: every block is checked.
 *
 * @module
 */
import { dirname, isAbsolute, join, normalize, resolve } from "node:path";

/** One command of a `sh` block. */
export interface ShellCommand {
  /** The command as written (continuations joined). */
  readonly text: string;
  /** Its line in the chapter (1-based). */
  readonly line: number;
  /** Whether the guide says it fails. */
  readonly fails: boolean;
}

/** The expected output of a `sh` block. */
export interface ExpectedOutput {
  readonly line: number;
  readonly lines: readonly string[];
}

/** What a `ts` block does with its file. */
export type FileMode =
  | "write"
  | "append"
  | "excerpt"
  | "check"
  | "check-excerpt";

/** A step of the guide: a `sh` block (with its output) or a `ts` block. */
export type Step =
  | {
    readonly kind: "sh";
    readonly file: string;
    readonly line: number;
    readonly commands: readonly ShellCommand[];
    expected?: ExpectedOutput;
  }
  | {
    readonly kind: "file";
    readonly file: string;
    readonly line: number;
    readonly path: string;
    readonly mode: FileMode;
    readonly text: string;
  };

/** A chapter that breaks the conventions. */
export class GuideFormatError extends Error {
  override name = "GuideFormatError";
}

/** A step whose commands, output or files are not what the guide says. */
export class GuideStepError extends Error {
  override name = "GuideStepError";
}

const MODES: Readonly<Record<string, FileMode>> = {
  "": "write",
  "add at the end": "append",
  "excerpt": "excerpt",
  "as generated": "check",
  "excerpt, as generated": "check-excerpt",
};

const LABEL = /^\/\/ (\S+)(?: \(([^)]*)\))?\s*$/;

/**
 * Splits a chapter into its steps, checking the conventions.
 *
 * @param markdown The chapter's text.
 * @param file Its name, for messages.
 */
export function parseGuide(markdown: string, file: string): Step[] {
  const lines = markdown.split(/\r?\n/);
  const steps: Step[] = [];
  // the sh block a text block may still attach to
  let lastSh: Extract<Step, { kind: "sh" }> | undefined;
  let i = 0;
  while (i < lines.length) {
    const open = /^(`{3,}|~{3,})(.*)$/.exec(lines[i] ?? "");
    if (open === null && /^\s+(`{3,}|~{3,})/.test(lines[i] ?? "")) {
      throw new GuideFormatError(
        `${file}:${
          i + 1
        }: a code block must start at the beginning of a line (not inside a list), so that it is run`,
      );
    }
    if (open === null) {
      i++;
      continue;
    }
    const fence = open[1] ?? "```";
    const info = (open[2] ?? "").trim();
    const start = i + 1; // 1-based line of the opening fence
    const body: string[] = [];
    i++;
    const closing = new RegExp(`^${fence[0]}{${fence.length},}\\s*$`);
    while (i < lines.length && !closing.test(lines[i] ?? "")) {
      body.push(lines[i] ?? "");
      i++;
    }
    if (i >= lines.length) {
      throw new GuideFormatError(`${file}:${start}: unclosed code block`);
    }
    i++; // the closing fence
    const language = info.split(/\s+/)[0] ?? "";
    const where = `${file}:${start}`;
    switch (language) {
      case "sh": {
        const step = {
          kind: "sh" as const,
          file,
          line: start,
          commands: parseCommands(body, start + 1, where),
        };
        steps.push(step);
        lastSh = step;
        break;
      }
      case "text": {
        if (lastSh === undefined) {
          throw new GuideFormatError(
            `${where}: a text block must show the output of the sh block before it, and there is none (or it has its output already)`,
          );
        }
        lastSh.expected = { line: start, lines: body };
        lastSh = undefined;
        break;
      }
      case "ts": {
        if (!info.split(/\s+/).includes("ignore")) {
          throw new GuideFormatError(
            `${where}: write \`\`\`ts ignore, so that deno test --doc leaves the block to this runner (it is a file of the app, not a standalone example)`,
          );
        }
        steps.push(parseFileBlock(body, file, start));
        lastSh = undefined;
        break;
      }
      default:
        throw new GuideFormatError(
          `${where}: a code block must be sh, ts or text, not ${
            language === "" ? "unlabelled" : `"${language}"`
          }: every block of the guide is run or checked`,
        );
    }
  }
  return steps;
}

function parseCommands(
  body: readonly string[],
  firstLine: number,
  where: string,
): ShellCommand[] {
  const commands: ShellCommand[] = [];
  let pending: { text: string; line: number } | undefined;
  for (const [index, raw] of body.entries()) {
    const line = firstLine + index;
    const text = raw.trimEnd();
    if (pending === undefined && (text.trim() === "" || /^\s*#/.test(text))) {
      continue;
    }
    const joined = pending === undefined
      ? { text, line }
      : { text: `${pending.text} ${text.trim()}`, line: pending.line };
    if (joined.text.endsWith("\\")) {
      pending = { text: joined.text.slice(0, -1).trimEnd(), line: joined.line };
      continue;
    }
    pending = undefined;
    const fails = /\s#\s*fails\b/.test(joined.text);
    commands.push({ text: joined.text.trim(), line: joined.line, fails });
  }
  if (pending !== undefined) {
    throw new GuideFormatError(`${where}: the last command ends in "\\"`);
  }
  if (commands.length === 0) {
    throw new GuideFormatError(`${where}: a sh block without commands`);
  }
  return commands;
}

function parseFileBlock(
  body: readonly string[],
  file: string,
  start: number,
): Step {
  const where = `${file}:${start}`;
  const label = LABEL.exec(body[0] ?? "");
  const mode = label === null ? undefined : MODES[label[2] ?? ""];
  if (label === null || mode === undefined) {
    throw new GuideFormatError(
      `${where}: a ts block must start with "// <path>", optionally followed by one of ${
        Object.keys(MODES).filter((k) => k !== "").map((k) => `(${k})`)
          .join(", ")
      }; found ${JSON.stringify(body[0] ?? "")}`,
    );
  }
  const path = label[1] ?? "";
  if (isAbsolute(path) || normalize(path).split(/[\\/]/).includes("..")) {
    throw new GuideFormatError(
      `${where}: "${path}" must be a path inside the app`,
    );
  }
  const text = body.slice(1).join("\n");
  if (text.trim() === "") {
    throw new GuideFormatError(`${where}: a ts block without code`);
  }
  return { kind: "file", file, line: start, path, mode, text };
}

/** Removes ANSI escape sequences. */
export function stripAnsi(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "");
}

function lineMatcher(expected: string): RegExp {
  const parts = expected.split("…").map((part) =>
    part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
  );
  return new RegExp(`^${parts.join(".*")}$`);
}

/**
 * Checks output against a `text` block: its non-blank lines must match a
 * run of consecutive non-blank output lines, `…` matching any text within
 * a line and a line of only `…` any number of lines.
 *
 * @param expected The text block's lines.
 * @param output What the commands printed.
 * @returns Whether it matches.
 */
export function outputMatches(
  expected: readonly string[],
  output: string,
): boolean {
  const want = expected.map((line) => line.trimEnd()).filter((line) =>
    line !== ""
  ).map((line) => line.trim() === "…" ? undefined : lineMatcher(line));
  const have = stripAnsi(output).split(/\r?\n/).map((line) => line.trimEnd())
    .filter((line) => line !== "");
  const match = (w: number, h: number): boolean => {
    if (w === want.length) return true;
    const matcher = want[w];
    if (matcher === undefined) {
      for (let k = h; k <= have.length; k++) {
        if (match(w + 1, k)) return true;
      }
      return false;
    }
    return h < have.length && matcher.test(have[h] ?? "") &&
      match(w + 1, h + 1);
  };
  for (let start = 0; start <= have.length; start++) {
    if (match(0, start)) return true;
  }
  return false;
}

/** Where and how the guide runs. */
export interface GuideContext {
  /** The current folder (changed by `cd`). */
  cwd: string;
  /** The `cli.ts` that stands in for `jsr:@sequent/cli`. */
  readonly cli: string;
  /** The environment of the commands. */
  readonly env: Readonly<Record<string, string>>;
  /** Milliseconds a command may take. */
  readonly timeoutMs: number;
}

/**
 * The environment the guide's commands run in: this process's, with
 * colours off, a fixed collation for `ls`, this Deno first on the `PATH`,
 * and no `DATABASE_URL` (the guide promises no database server is needed)
 * or `RUST_BACKTRACE`.
 */
export function guideEnv(): Record<string, string> {
  const env = Deno.env.toObject();
  delete env.DATABASE_URL;
  delete env.RUST_BACKTRACE;
  const path = env.PATH ?? "";
  return {
    ...env,
    NO_COLOR: "1",
    LC_ALL: "C",
    PATH: `${dirname(Deno.execPath())}:${path}`,
  };
}

/** The command with `jsr:@sequent/cli[@version]` pointed at the checkout. */
export function localCommand(command: string, cli: string): string {
  return command.replace(/jsr:@sequent\/cli(@[^\s/]+)?(?=[\s/]|$)/g, cli);
}

/** Runs one step, throwing a {@linkcode GuideStepError} when it is not as the guide says. */
export async function runStep(
  step: Step,
  context: GuideContext,
): Promise<void> {
  if (step.kind === "sh") await runShell(step, context);
  else await applyFile(step, context);
}

async function runShell(
  step: Extract<Step, { kind: "sh" }>,
  context: GuideContext,
): Promise<void> {
  let output = "";
  for (const command of step.commands) {
    const where = `${step.file}:${command.line}`;
    const cd = /^cd\s+(\S+)$/.exec(command.text);
    if (cd !== null) {
      const target = resolve(context.cwd, cd[1] ?? "");
      try {
        if (!(await Deno.stat(target)).isDirectory) throw new Error();
      } catch {
        throw new GuideStepError(`${where}: cd: no folder ${target}`);
      }
      context.cwd = target;
      continue;
    }
    if (/(^|[;&|]\s*)cd\s/.test(command.text)) {
      throw new GuideFormatError(
        `${where}: put cd on a line of its own, so the guide can follow it`,
      );
    }
    const result = await new Deno.Command("sh", {
      args: ["-c", `exec 2>&1\n${localCommand(command.text, context.cli)}`],
      cwd: context.cwd,
      env: context.env,
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
      signal: AbortSignal.timeout(context.timeoutMs),
    }).output();
    const printed = stripAnsi(new TextDecoder().decode(result.stdout));
    output += printed.endsWith("\n") || printed === ""
      ? printed
      : `${printed}\n`;
    if (result.signal !== null) {
      throw new GuideStepError(
        `${where}: "${command.text}" was stopped (${result.signal}; timeout ${context.timeoutMs}ms)\n${
          indent(printed)
        }`,
      );
    }
    if (command.fails && result.code === 0) {
      throw new GuideStepError(
        `${where}: the guide says "${command.text}" fails, but it succeeded:\n${
          indent(printed)
        }`,
      );
    }
    if (!command.fails && result.code !== 0) {
      throw new GuideStepError(
        `${where}: "${command.text}" exited with ${result.code}:\n${
          indent(printed)
        }`,
      );
    }
  }
  const expected = step.expected;
  if (expected !== undefined && !outputMatches(expected.lines, output)) {
    throw new GuideStepError(
      `${step.file}:${expected.line}: the output is not what the guide shows.\n--- the guide shows\n${
        expected.lines.join("\n")
      }\n--- the commands printed\n${output}`,
    );
  }
}

function indent(text: string): string {
  return text.split("\n").map((line) => `    ${line}`).join("\n");
}

async function readExisting(path: string, where: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new GuideStepError(`${where}: there is no file ${path}`);
    }
    throw error;
  }
}

const bare = (line: string) => line.trim();

async function applyFile(
  step: Extract<Step, { kind: "file" }>,
  context: GuideContext,
): Promise<void> {
  const where = `${step.file}:${step.line}`;
  const path = join(context.cwd, step.path);
  const code = step.text.replace(/\s+$/, "") + "\n";
  switch (step.mode) {
    case "write":
      await Deno.mkdir(dirname(path), { recursive: true });
      await Deno.writeTextFile(path, code);
      return;
    case "append": {
      const old = await readExisting(path, where);
      await Deno.writeTextFile(path, `${old.replace(/\s+$/, "")}\n\n${code}`);
      return;
    }
    case "excerpt": {
      const old = await readExisting(path, where);
      await Deno.writeTextFile(path, replaceExcerpt(old, code, where));
      return;
    }
    case "check": {
      const actual = await readExisting(path, where);
      if (actual !== code) {
        throw new GuideStepError(
          `${where}: ${step.path} does not read as the guide shows: ${
            firstDifference(code, actual)
          }`,
        );
      }
      return;
    }
    case "check-excerpt": {
      const actual = (await readExisting(path, where)).split("\n").map(bare);
      const excerpt = code.trimEnd().split("\n").map(bare);
      const found = actual.some((_, at) =>
        excerpt.every((line, k) => actual[at + k] === line)
      );
      if (!found) {
        throw new GuideStepError(
          `${where}: ${step.path} does not have these lines:\n${
            indent(code)
          }\n--- it reads\n${indent(actual.join("\n"))}`,
        );
      }
      return;
    }
  }
}

function firstDifference(expected: string, actual: string): string {
  const want = expected.split("\n");
  const have = actual.split("\n");
  for (let k = 0; k < Math.max(want.length, have.length); k++) {
    if (want[k] !== have[k]) {
      return `line ${k + 1} is ${
        JSON.stringify(have[k] ?? "<end of file>")
      }, the guide shows ${JSON.stringify(want[k] ?? "<end of file>")}`;
    }
  }
  return "they differ";
}

/**
 * Replaces the part of `text` an excerpt stands for: from the line equal
 * to the excerpt's first line (where there are several, the one followed
 * by most of the excerpt's next lines) to the next line equal to its last
 * line after the lines they share. Lines compare without indentation; the
 * excerpt is re-indented to the file's indentation of its first line.
 *
 * @param text The file's text.
 * @param excerpt The excerpt.
 * @param where The block's place, for messages.
 * @returns The new text.
 */
export function replaceExcerpt(
  text: string,
  excerpt: string,
  where: string,
): string {
  const lines = text.replace(/\n$/, "").split("\n");
  const part = excerpt.replace(/\s+$/, "").split("\n");
  const first = bare(part[0] ?? "");
  const last = bare(part.at(-1) ?? "");
  if (part.length < 2) {
    throw new GuideFormatError(
      `${where}: an excerpt needs at least two lines, the first and last being lines the file has`,
    );
  }
  const shared = (at: number) => {
    let k = 0;
    while (
      k < part.length && at + k < lines.length &&
      bare(lines[at + k] ?? "") === bare(part[k] ?? "")
    ) k++;
    return k;
  };
  const candidates = lines.flatMap((line, at) =>
    bare(line) === first ? [{ at, shared: shared(at) }] : []
  );
  if (candidates.length === 0) {
    throw new GuideStepError(
      `${where}: the file has no line ${
        JSON.stringify(first)
      } to start the excerpt at`,
    );
  }
  const most = Math.max(...candidates.map((c) => c.shared));
  const best = candidates.filter((c) => c.shared === most);
  if (best.length > 1) {
    throw new GuideFormatError(
      `${where}: the excerpt could start at lines ${
        best.map((c) => c.at + 1).join(", ")
      }: give it a first line that the file has once`,
    );
  }
  const start = best[0]!.at;
  const from = most === part.length ? start + part.length - 1 : start + most;
  let end = -1;
  for (let k = Math.max(from, start + 1); k < lines.length; k++) {
    if (bare(lines[k] ?? "") === last) {
      end = k;
      break;
    }
  }
  if (end < 0) {
    throw new GuideStepError(
      `${where}: after line ${start + 1}, the file has no line ${
        JSON.stringify(last)
      } to end the excerpt at`,
    );
  }
  const indentOf = (line: string) => /^[ \t]*/.exec(line)?.[0] ?? "";
  const have = indentOf(lines[start] ?? "");
  const shown = indentOf(part[0] ?? "");
  const reindented = part.map((line) => {
    if (line.trim() === "") return "";
    if (have.length >= shown.length) return have.slice(shown.length) + line;
    return line.startsWith(shown.slice(have.length))
      ? line.slice(shown.length - have.length)
      : line;
  });
  return [...lines.slice(0, start), ...reindented, ...lines.slice(end + 1)]
    .join("\n") + "\n";
}
