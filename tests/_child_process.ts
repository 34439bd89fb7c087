/**
 * A child Deno process for tests that need a second process: its standard
 * output read line by line, its standard input kept open until `endInput`,
 * and a kill that is sure to reap it.
 */
import assert from "node:assert/strict";

/** A running child process. */
export class Child {
  readonly #process: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #lines: string[] = [];
  readonly #waiters = new Set<() => void>();
  readonly #stdout: Promise<void>;
  readonly #stderr: Promise<string>;
  #ended = false;

  private constructor(process: Deno.ChildProcess) {
    this.#process = process;
    this.#writer = process.stdin.getWriter();
    this.#stdout = this.#read();
    this.#stderr = new Response(process.stderr).text();
  }

  /** Starts `deno run -A <script> <args>`. */
  static spawn(script: URL, args: readonly string[]): Child {
    return new Child(
      new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", script.pathname, ...args],
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn(),
    );
  }

  /** Its process id. */
  get pid(): number {
    return this.#process.pid;
  }

  /** The lines it printed so far. */
  get lines(): readonly string[] {
    return this.#lines;
  }

  async #read(): Promise<void> {
    let rest = "";
    for await (
      const text of this.#process.stdout.pipeThrough(new TextDecoderStream())
    ) {
      const parts = (rest + text).split("\n");
      rest = parts.pop()!;
      this.#lines.push(...parts);
      for (const wake of this.#waiters) wake();
    }
    if (rest) this.#lines.push(rest);
    this.#ended = true;
    for (const wake of this.#waiters) wake();
  }

  /**
   * Waits for a line matching `pattern` and returns it.
   *
   * @throws when the output ends or `timeoutMs` passes first, with what it
   *   printed on both streams.
   */
  async waitFor(pattern: RegExp, timeoutMs = 60_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (let from = 0;;) {
      const found = this.#lines.slice(from).find((line) => pattern.test(line));
      if (found !== undefined) return found;
      from = this.#lines.length;
      if (this.#ended || Date.now() > deadline) {
        this.kill();
        assert.fail(
          `no line matching ${pattern} from the child; it printed:\n${
            this.#lines.join("\n")
          }\n${await this.#stderr}`,
        );
      }
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.#waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, Math.max(0, deadline - Date.now()));
        this.#waiters.add(wake);
      });
    }
  }

  /** Writes a line to its standard input. */
  async send(line: string): Promise<void> {
    await this.#writer.write(new TextEncoder().encode(`${line}\n`));
  }

  /** Closes its standard input. */
  async endInput(): Promise<void> {
    await this.#writer.close().catch(() => {});
  }

  /** Kills it with SIGKILL (if it still runs). */
  kill(): void {
    try {
      this.#process.kill("SIGKILL");
    } catch {
      // already ended
    }
  }

  /** Waits for it to end; returns its exit code and standard error. */
  async ended(): Promise<
    { code: number; signal: string | null; stderr: string }
  > {
    await this.endInput();
    const status = await this.#process.status;
    await this.#stdout;
    return {
      code: status.code,
      signal: status.signal,
      stderr: await this.#stderr,
    };
  }
}
