import assert from "node:assert/strict";
import { BUSY_EVENTS_PER_S, pauseAfter } from "../../src/core/_poll_pause.ts";

const poll = { min: 10, max: 250, busyMax: 50 };

Deno.test("an idle processor doubles its pause up to max", () => {
  assert.equal(pauseAfter(poll, 10, 0, 10), 20);
  assert.equal(pauseAfter(poll, 200, 0, 200), 250);
  assert.equal(pauseAfter(poll, 250, 0, 250), 250);
  // a pause of 0 still grows
  assert.equal(pauseAfter({ ...poll, min: 0 }, 0, 0, 0), 2);
});

Deno.test("a processor following a slow stream pauses min", () => {
  // 800 events/s: 8 events in 10 ms
  assert.equal(pauseAfter(poll, 10, 8, 10), 10);
  // 200 events/s, the read-your-writes benchmark's rate
  assert.equal(pauseAfter(poll, 10, 2, 10), 10);
  // exactly the busy rate is not busy yet
  assert.equal(pauseAfter(poll, 10, BUSY_EVENTS_PER_S / 100, 10), 10);
  // after a long idle pause, one event is a slow rate
  assert.equal(pauseAfter(poll, 250, 1, 250), 10);
});

Deno.test("a busy processor's pause grows with the rate up to busyMax", () => {
  // 2,000 events/s: twice the busy rate, twice min
  assert.equal(pauseAfter(poll, 10, 20, 10), 20);
  // 1,600 events/s (eight writers, measured here): 16 ms
  assert.equal(pauseAfter(poll, 10, 16, 10), 16);
  // 14,000 events/s: capped
  assert.equal(pauseAfter(poll, 20, 280, 20), 50);
  // a round that came sooner than min counts over min
  assert.equal(pauseAfter(poll, 10, 20, 2), 20);
});

Deno.test("busyMax equal to min keeps the pause flat under load", () => {
  assert.equal(pauseAfter({ ...poll, busyMax: 10 }, 10, 1_000, 10), 10);
});
