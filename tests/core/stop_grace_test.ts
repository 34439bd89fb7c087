/**
 * How a stopping loop waits for a call under way (`_stop_grace.ts`): not
 * at all before the stop, the grace after it, and never with an unhandled
 * rejection from a call given up.
 */
import assert from "node:assert/strict";
import {
  GivenUp,
  settledWithin,
  StopGrace,
  untilStoppedWithin,
} from "../../src/core/_stop_grace.ts";

function later<T>(ms: number, value: T, fail = false): Promise<T> {
  return new Promise((resolve, reject) =>
    setTimeout(
      () => fail ? reject(new Error("late failure")) : resolve(value),
      ms,
    )
  );
}

Deno.test("untilStoppedWithin: with no stop, it is the call, however long it takes", async () => {
  const stop = new AbortController();
  assert.equal(
    await untilStoppedWithin(later(60, "done"), stop.signal, () => 10),
    "done",
  );
  await assert.rejects(
    untilStoppedWithin(later(20, "x", true), stop.signal, () => 10),
    /late failure/,
  );
});

Deno.test("untilStoppedWithin: a call that ends within the grace after the stop is waited for", async () => {
  const stop = new AbortController();
  const waiting = untilStoppedWithin(later(40, "done"), stop.signal, () => 200);
  stop.abort();
  assert.equal(await waiting, "done");
});

Deno.test("untilStoppedWithin: a call still running when the grace is over is given up, and its later failure is nobody's", async () => {
  const stop = new AbortController();
  const started = performance.now();
  const waiting = untilStoppedWithin(
    later(300, "x", true),
    stop.signal,
    () => 50,
  );
  stop.abort();
  await assert.rejects(waiting, (error) => {
    assert.ok(error instanceof GivenUp);
    assert.equal(error.message, "given up 50 ms after the stop");
    return true;
  });
  const took = performance.now() - started;
  assert.ok(took >= 45 && took < 250, `given up after ${took} ms`);
  // the call fails later: no unhandled rejection ends the test
  await later(300, undefined);
});

Deno.test("untilStoppedWithin: after the stop, the grace is asked at once, and one spent gives the call up at once", async () => {
  const stop = new AbortController();
  stop.abort();
  let asked = 0;
  await assert.rejects(
    untilStoppedWithin(later(200, "x"), stop.signal, () => {
      asked++;
      return -5;
    }),
    GivenUp,
  );
  assert.equal(asked, 1);
});

Deno.test("settledWithin: waits for a call to settle, either way, for the time given at most", async () => {
  let started = performance.now();
  await settledWithin(later(20, "x", true), 1_000);
  assert.ok(performance.now() - started < 500);
  started = performance.now();
  const slow = later(300, "x", true);
  await settledWithin(slow, 30);
  const took = performance.now() - started;
  assert.ok(took >= 25 && took < 250, `waited ${took} ms`);
  await settledWithin(slow, 0);
  await slow.catch(() => {});
});

Deno.test("StopGrace: every call shares one deadline from the stop: one begun later gets what is left, one begun after it none", async () => {
  const grace = new StopGrace(150);
  const stop = new AbortController();
  grace.stopped();
  stop.abort();
  await later(100, undefined);
  // begun 100 ms after the stop: some 50 ms left, not 150
  const started = performance.now();
  const late = later(120, "late");
  await assert.rejects(grace.within(late, stop.signal), GivenUp);
  const waited = performance.now() - started;
  assert.ok(waited < 100, `waited ${waited.toFixed(0)} ms`);
  // one that ends within what is left is waited for
  assert.equal(await grace.within(later(0, "quick"), stop.signal), "quick");
  await later(60, undefined);
  // the grace spent: given up at once
  const after = performance.now();
  const last = later(30, "x");
  await assert.rejects(grace.within(last, stop.signal), GivenUp);
  assert.ok(performance.now() - after < 25);
  // (the calls given up go on: let them end within the test)
  await Promise.all([late, last]);
});
