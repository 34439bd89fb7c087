/** Shared helpers of the CLI tests: a recording io, temp folders, subprocesses. */
import { fileURLToPath, pathToFileURL } from "node:url";
import type { CliIo } from "../../src/cli/io.ts";

/** The checkout these tests run in (no trailing slash). */
export const CHECKOUT: string = fileURLToPath(new URL("../..", import.meta.url))
  .replace(/[\\/]$/, "");

/** The `file:` URL of an absolute path. */
export function toFileUrl(path: string): string {
  return pathToFileURL(path).href;
}

/** An io that records what is written and answers questions from a list. */
export interface Recorder {
  readonly io: CliIo;
  readonly stdout: string[];
  readonly stderr: string[];
  readonly questions: string[];
  /** Everything written to stdout, joined. */
  out(): string;
  /** Everything written to stderr, joined. */
  err(): string;
}

export function recorder(answers: boolean[] = []): Recorder {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const questions: string[] = [];
  return {
    io: {
      stdout: (text) => stdout.push(text),
      stderr: (text) => stderr.push(text),
      confirm: (question) => {
        questions.push(question);
        return Promise.resolve(answers.shift() ?? false);
      },
    },
    stdout,
    stderr,
    questions,
    out: () => stdout.join("\n"),
    err: () => stderr.join("\n"),
  };
}

/** Runs `fn` in a new temp folder, removed afterwards. */
export async function inTempDir(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "sequent-cli-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The output of a finished subprocess. */
export interface Output {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs `deno <args>` in `cwd`, with colours off, this process's environment
 * plus `env`, less the variables whose value in `env` is `undefined`.
 */
export async function deno(
  args: readonly string[],
  cwd: string,
  env: Record<string, string | undefined> = {},
): Promise<Output> {
  const merged: Record<string, string> = {};
  for (
    const [key, value] of Object.entries({ ...Deno.env.toObject(), ...env })
  ) {
    if (value !== undefined) merged[key] = value;
  }
  const output = await new Deno.Command(Deno.execPath(), {
    args: [...args],
    cwd,
    clearEnv: true,
    env: { ...merged, NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** Fails with the command's output when it did not succeed. */
export function assertSucceeded(what: string, output: Output): void {
  if (output.code !== 0) {
    throw new Error(
      `${what} exited with ${output.code}\n--- stdout\n${output.stdout}\n--- stderr\n${output.stderr}`,
    );
  }
}

/**
 * The databases to run a generated app on: the embedded one, and the
 * server in `DATABASE_URL` if it names one.
 */
export function databases(): (string | undefined)[] {
  const url = Deno.env.get("DATABASE_URL");
  return url !== undefined && /^postgres(ql)?:/.test(url)
    ? [undefined, url]
    : [undefined];
}

/** `url` with a fresh, unused database name (`prefix_…`) in place of its own. */
export function scratchDatabase(url: string, prefix: string): string {
  const u = new URL(url);
  u.pathname = `/${prefix}_${crypto.randomUUID().slice(0, 8)}`;
  return u.href;
}
