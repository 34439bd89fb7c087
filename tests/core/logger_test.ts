/**
 * Loggers (src/core/logger.ts): consoleLogger filters by level and writes to
 * the console method of the level; silentLogger writes nothing.
 */
import assert from "node:assert/strict";
import { consoleLogger, type LogLevel, silentLogger } from "@sequent/core";

type Method = "log" | "info" | "warn" | "error" | "debug";

/** Runs `fn` with the console's output methods captured. */
function captureConsole(fn: () => void): [Method, unknown[]][] {
  const calls: [Method, unknown[]][] = [];
  const methods: Method[] = ["log", "info", "warn", "error", "debug"];
  const saved = methods.map((m) => console[m]);
  for (const m of methods) {
    console[m] = (...args: unknown[]) => {
      calls.push([m, args]);
    };
  }
  try {
    fn();
  } finally {
    methods.forEach((m, i) => (console[m] = saved[i]!));
  }
  return calls;
}

const LEVELS = ["debug", "info", "warn", "error"] as const;

function logEveryLevel(level: LogLevel): [Method, unknown[]][] {
  const logger = consoleLogger(level);
  return captureConsole(() => {
    for (const l of LEVELS) logger.log(l, `${l} message`);
  });
}

Deno.test("consoleLogger() writes messages at its level and above, prefixed with the level", () => {
  assert.deepEqual(logEveryLevel("debug"), [
    ["log", ["[sequent] DEBUG debug message"]],
    ["log", ["[sequent] INFO info message"]],
    ["warn", ["[sequent] WARN warn message"]],
    ["error", ["[sequent] ERROR error message"]],
  ]);
  assert.deepEqual(logEveryLevel("warn"), [
    ["warn", ["[sequent] WARN warn message"]],
    ["error", ["[sequent] ERROR error message"]],
  ]);
  assert.deepEqual(logEveryLevel("error"), [
    ["error", ["[sequent] ERROR error message"]],
  ]);
  assert.deepEqual(logEveryLevel("silent"), []);
});

Deno.test("consoleLogger() defaults to info", () => {
  const logger = consoleLogger();
  const calls = captureConsole(() => {
    logger.log("debug", "hidden");
    logger.log("info", "shown");
  });
  assert.deepEqual(calls, [["log", ["[sequent] INFO shown"]]]);
});

Deno.test("consoleLogger().enabled() tells which levels are written", () => {
  const table: [LogLevel, boolean[]][] = [
    ["debug", [true, true, true, true]],
    ["info", [false, true, true, true]],
    ["warn", [false, false, true, true]],
    ["error", [false, false, false, true]],
    ["silent", [false, false, false, false]],
  ];
  for (const [level, expected] of table) {
    const logger = consoleLogger(level);
    assert.deepEqual(LEVELS.map((l) => logger.enabled(l)), expected, level);
  }
});

Deno.test("consoleLogger() passes structured fields along, and leaves out empty ones", () => {
  const logger = consoleLogger("debug");
  const fields = { aggregateId: "a", sequenceNumber: 3 };
  const calls = captureConsole(() => {
    logger.log("info", "stored", fields);
    logger.log("info", "nothing", {});
  });
  assert.deepEqual(calls, [
    ["log", ["[sequent] INFO stored", fields]],
    ["log", ["[sequent] INFO nothing"]],
  ]);
});

Deno.test("consoleLogger() rejects an unknown level with a RangeError", () => {
  for (const level of ["verbose", "", "toString", "constructor"]) {
    assert.throws(() => consoleLogger(level as LogLevel), {
      name: "RangeError",
      message: `Unknown log level "${level}"`,
    });
  }
});

Deno.test("silentLogger writes nothing and enables no level", () => {
  const calls = captureConsole(() => {
    for (const l of LEVELS) silentLogger.log(l, "x", { a: 1 });
  });
  assert.deepEqual(calls, []);
  assert.deepEqual(LEVELS.map((l) => silentLogger.enabled(l)), [
    false,
    false,
    false,
    false,
  ]);
});
