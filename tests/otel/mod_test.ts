/**
 * The OpenTelemetry API is the adapter's only dependency, and only
 * `@sequent/core/otel` loads it: an application without telemetry does
 * not load it at all. The library registers no provider, no context
 * manager and no sampler (T4.8): read off its sources.
 */
import assert from "node:assert/strict";
import { moduleSpecifiers } from "../_module_graph.ts";

Deno.test("only @sequent/core/otel loads @opentelemetry/api, and nothing else of OpenTelemetry", async () => {
  const otelModules = async (entry: string) =>
    (await moduleSpecifiers(entry)).map((m) => m.specifier).filter((s) =>
      s.includes("opentelemetry")
    );
  for (
    const entry of [
      "mod.ts",
      "src/postgres/mod.ts",
      "src/app/tasks.ts",
      "src/testing/mod.ts",
      "src/internal.ts",
      "src/nats/mod.ts",
    ]
  ) {
    assert.deepEqual(await otelModules(entry), [], entry);
  }
  const loaded = await otelModules("src/otel/mod.ts");
  assert.ok(loaded.length > 0);
  assert.deepEqual(
    loaded.filter((s) => !s.includes("@opentelemetry/api")),
    [],
  );
});

Deno.test("the library registers no provider, context manager or propagator of its own", async () => {
  const root = new URL("../../src/", import.meta.url);
  const offenders: string[] = [];
  const walk = async (dir: URL) => {
    for await (const entry of Deno.readDir(dir)) {
      const url = new URL(entry.name + (entry.isDirectory ? "/" : ""), dir);
      if (entry.isDirectory) await walk(url);
      else if (entry.name.endsWith(".ts")) {
        const text = await Deno.readTextFile(url);
        for (
          const call of [
            "setGlobalTracerProvider",
            "setGlobalMeterProvider",
            "setGlobalContextManager",
            "setGlobalPropagator",
            "Sampler(",
          ]
        ) {
          if (text.includes(call)) offenders.push(`${entry.name}: ${call}`);
        }
      }
    }
  };
  await walk(root);
  assert.deepEqual(offenders, []);
});
