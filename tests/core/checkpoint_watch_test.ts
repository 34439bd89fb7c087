/**
 * The shared checkpoint watch behind `ProcessorRunner.waitFor`, on a fake
 * source: a wait whose token does not compare fails alone, a wait times out
 * at its deadline while a read stalls, and no timer outlives the waits (the
 * default sanitizers check it, and an unhandled rejection fails the test).
 */
import assert from "node:assert/strict";
import {
  type CheckpointSource,
  type CheckpointWait,
  CheckpointWatch,
} from "../../src/core/_checkpoint_watch.ts";

class Watch_TimedOut extends Error {
  constructor(readonly wait: CheckpointWait, readonly behind: string[]) {
    super(`${wait.token}: ${behind.join(", ")} behind`);
  }
}

/**
 * Positions are whole numbers (`""` is 0); anything else throws, as a
 * store's `comparePositions` does. `checkpoints` is what each read returns,
 * and `gate`, when set, holds every read until it resolves.
 */
function source(): CheckpointSource & {
  checkpoints: Map<string, string>;
  gate: Promise<void> | undefined;
  reads: number;
} {
  return {
    checkpoints: new Map(),
    gate: undefined,
    reads: 0,
    async read(names) {
      this.reads++;
      await this.gate;
      return new Map(
        names.flatMap((n) => {
          const c = this.checkpoints.get(n);
          return c === undefined ? [] : [[n, c] as const];
        }),
      );
    },
    compare(a, b) {
      return position(a) - position(b);
    },
    timedOut(wait, behind) {
      return new Watch_TimedOut(wait, [...behind]);
    },
  };
}

function position(p: string): number {
  if (p === "") return 0;
  if (!/^\d+$/.test(p)) throw new TypeError(`Bad position ${p}`);
  return Number(p);
}

Deno.test("wait() rejects a token that does not compare alone, and the waits beside and after it still end", async () => {
  const s = source();
  s.checkpoints.set("a", "5");
  const watch = new CheckpointWatch(s);
  const behind = watch.wait({ token: "9", processors: ["a"], timeoutMs: 40 });
  const bad = watch.wait({ token: "12:40", processors: ["a"], timeoutMs: 40 });
  const passed = watch.wait({ token: "3", processors: ["a"], timeoutMs: 40 });
  await assert.rejects(bad, { name: "TypeError", message: /12:40/ });
  await passed;
  await assert.rejects(behind, Watch_TimedOut);
  // the loop still serves the next callers
  await watch.wait({ token: "5", processors: ["a"], timeoutMs: 40 });
  await assert.rejects(
    watch.wait({ token: "6", processors: ["a"], timeoutMs: 5 }),
    Watch_TimedOut,
  );
});

Deno.test("wait() times out at its deadline while a read of the checkpoints stalls, naming every processor as behind", async () => {
  const s = source();
  let open = (): void => {};
  s.gate = new Promise<void>((resolve) => open = resolve);
  // a stall bounded for a failing run's sake, far past the timeout
  const fallback = setTimeout(() => open(), 500);
  const watch = new CheckpointWatch(s);
  const started = performance.now();
  try {
    const error = await watch.wait({
      token: "1",
      processors: ["a", "b"],
      timeoutMs: 20,
    }).then(() => undefined, (e: unknown) => e);
    const took = performance.now() - started;
    assert.ok(error instanceof Watch_TimedOut, String(error));
    assert.deepEqual(error.behind, ["a", "b"]);
    assert.ok(took < 250, `timed out after ${took} ms, timeoutMs 20`);
    assert.equal(s.reads, 1);
  } finally {
    clearTimeout(fallback);
    open();
  }
  // the read that comes back late answers nobody, and reads no more
  await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(s.reads, 1);
});

Deno.test("wait() answers from the first read when the timeout is 0, and a wait longer than a timer can take does not end early", async () => {
  const s = source();
  s.checkpoints.set("a", "2");
  const watch = new CheckpointWatch(s);
  await watch.wait({ token: "2", processors: ["a"], timeoutMs: 0 });
  await assert.rejects(
    watch.wait({ token: "3", processors: ["a"], timeoutMs: 0 }),
    Watch_TimedOut,
  );
  // a timer of more than 2 ** 31 - 1 ms fires at once: the watch re-arms
  const long = watch.wait({ token: "3", processors: ["a"], timeoutMs: 3e9 });
  let ended = false;
  void long.finally(() => ended = true).catch(() => {});
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(ended, false);
  s.checkpoints.set("a", "3");
  await long;
  // resolved: its timer is cleared (else the op sanitizer fails this test)
});
