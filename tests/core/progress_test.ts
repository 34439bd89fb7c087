import assert from "node:assert/strict";
import { Progress } from "@sequent/core/internal";

function recorder(isTerminal: boolean) {
  const writes: string[] = [];
  return {
    output: { write: (t: string) => writes.push(t), isTerminal },
    writes,
  };
}

/** A clock the test moves by hand, in milliseconds. */
function clock(start = 1000) {
  let now = start;
  return {
    now: () => now,
    advance(ms: number) {
      now += ms;
    },
  };
}

Deno.test("off a terminal, progress is plain lines with counts, rate and time left, then a final line", () => {
  const { output, writes } = recorder(false);
  const time = clock();
  const progress = new Progress("replay", 1000, { output, now: time.now });
  time.advance(1000);
  progress.advance(500);
  assert.equal(progress.done, 500);
  time.advance(1000);
  progress.advance(250); // within the default 5 s interval: no line
  progress.finish();
  progress.finish();
  assert.deepEqual(writes, [
    "replay: 500 of 1,000 (500/s, 1.0s left)\n",
    "replay: 750 of 1,000 (375/s in 2.0s)\n",
  ]);
});

Deno.test("off a terminal, a line is written at most once per interval", () => {
  const { output, writes } = recorder(false);
  const time = clock();
  const progress = new Progress("load", 100_000, { output, now: time.now });
  for (let i = 0; i < 12; i++) {
    time.advance(1000);
    progress.advance(1000);
  }
  assert.deepEqual(writes, [
    "load: 1,000 of 100,000 (1,000/s, 1m39s left)\n",
    "load: 6,000 of 100,000 (1,000/s, 1m34s left)\n",
    "load: 11,000 of 100,000 (1,000/s, 1m29s left)\n",
  ]);
});

Deno.test("on a terminal, progress redraws one bar with percentage, counts, rate and time left", () => {
  const { output, writes } = recorder(true);
  const time = clock();
  const progress = new Progress("replay", 200, { output, now: time.now });
  time.advance(500);
  progress.advance(50);
  time.advance(50); // within the default 100 ms interval: no redraw
  progress.advance(10);
  time.advance(450);
  progress.advance(40);
  time.advance(1000);
  progress.advance(100);
  progress.finish();
  const bar = (filled: number) => "█".repeat(filled) + "░".repeat(30 - filled);
  assert.deepEqual(writes, [
    `\rreplay ${bar(8)} 25% 50 of 200 100/s, 1.5s left\x1b[K`,
    `\rreplay ${bar(15)} 50% 100 of 200 100/s, 1.0s left\x1b[K`,
    `\rreplay ${bar(30)} 100% 200 of 200 100/s, 0.0s left\x1b[K`,
    `\rreplay ${bar(30)} 100% 200 of 200 100/s in 2.0s\x1b[K\n`,
  ]);
});

Deno.test("long durations read as minutes and hours; a zero rate leaves no time", () => {
  const { output, writes } = recorder(false);
  const time = clock();
  const progress = new Progress("big", 10_000_000, {
    output,
    now: time.now,
    intervalMs: 0,
  });
  progress.advance(0);
  time.advance(10_000);
  progress.advance(2_000);
  time.advance(50_000);
  progress.finish();
  assert.deepEqual(writes, [
    "big: 0 of 10,000,000 (0/s, 0.0s left)\n",
    "big: 2,000 of 10,000,000 (200/s, 13h53m left)\n",
    "big: 2,000 of 10,000,000 (33/s in 1m00s)\n",
  ]);
});

Deno.test("a total of zero, or more done than the total, shows a full bar and no time left", () => {
  const { output, writes } = recorder(true);
  const time = clock();
  const empty = new Progress("nothing", 0, { output, now: time.now });
  time.advance(1000);
  empty.finish();
  const over = new Progress("over", 10, { output, now: time.now });
  time.advance(1000);
  over.advance(15);
  const full = "█".repeat(30);
  assert.deepEqual(writes, [
    `\rnothing ${full} 100% 0 of 0 0/s in 1.0s\x1b[K\n`,
    `\rover ${full} 100% 15 of 10 15/s, 0.0s left\x1b[K`,
  ]);
});
