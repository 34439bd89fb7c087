/**
 * Where the CLI writes and how it asks questions: the terminal in
 * `cli.ts`, a recorder in tests.
 *
 * @module
 */

/**
 * The CLI's input and output. Commands write through it and ask through it,
 * so tests can capture what they print and answer their questions.
 *
 * @example Recording output and answering "yes"
 * ```ts
 * import type { CliIo } from "./io.ts";
 *
 * const out: string[] = [];
 * const io: CliIo = {
 *   stdout: (text) => out.push(text),
 *   stderr: (text) => out.push(text),
 *   confirm: () => Promise.resolve(true),
 * };
 * io.stdout("hello");
 * console.assert(out[0] === "hello");
 * ```
 */
export interface CliIo {
  /**
   * Writes text and a newline to standard output.
   *
   * @param text The text, one or more lines.
   */
  stdout(text: string): void;
  /**
   * Writes text and a newline to standard error.
   *
   * @param text The text, one or more lines.
   */
  stderr(text: string): void;
  /**
   * Asks a yes/no question; resolves to `true` only for a yes.
   *
   * @param question The question, without the `[y/N]`.
   */
  confirm(question: string): Promise<boolean>;
}

const encoder = new TextEncoder();

function writeAll(stream: { writeSync(p: Uint8Array): number }, text: string) {
  let bytes = encoder.encode(text + "\n");
  while (bytes.length > 0) bytes = bytes.subarray(stream.writeSync(bytes));
}

/**
 * The terminal: standard output and error of this process, and Deno's
 * `confirm()` (which answers "no" when standard input is not a terminal).
 *
 * @returns An {@linkcode CliIo} over the process's standard streams.
 *
 * @example
 * ```ts
 * import { terminalIo } from "./io.ts";
 *
 * terminalIo().stdout("Created blog");
 * ```
 */
export function terminalIo(): CliIo {
  return {
    stdout: (text) => writeAll(Deno.stdout, text),
    stderr: (text) => writeAll(Deno.stderr, text),
    confirm: (question) => Promise.resolve(confirm(question)),
  };
}
