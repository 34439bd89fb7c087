/**
 * The horizon gauge, `sequent.consumer.horizon.blocked_seconds`: while a
 * runner runs on PostgreSQL, a transaction that holds an id longer than
 * the longest polling pause is reported, at metric collection only; once
 * it ends, 0; once the runner stops, nothing. Needs `DATABASE_URL`; the
 * in-memory case (never blocked) always runs.
 */
import assert from "node:assert/strict";
import { type App, createApp } from "@sequent/core";
import { connectDatabase } from "@sequent/core/postgres";
import { openTelemetry } from "@sequent/core/otel";
import { serverUrl } from "../postgres/_backends.ts";
import { dropSchemas, schemaName } from "../app/_server_schemas.ts";
import { asyncAppConfig, POLL_MS } from "../app/_async_app.ts";
import { blogApp } from "./_blog.ts";
import { collectMetrics, sdk } from "./_sdk.ts";

/** The gauge's values now (one per reporting telemetry). */
async function blocked(): Promise<number[]> {
  const values: number[] = [];
  for (const scope of (await collectMetrics()).scopeMetrics) {
    for (const metric of scope.metrics) {
      if (
        metric.descriptor.name !== "sequent.consumer.horizon.blocked_seconds"
      ) {
        continue;
      }
      for (const point of metric.dataPoints) values.push(point.value as number);
    }
  }
  return values;
}

/** Runs the app's processors while `work` runs. */
async function running(app: App, work: () => Promise<void>): Promise<void> {
  const stop = new AbortController();
  const run = app.processors!.run({ signal: stop.signal });
  try {
    await work();
  } finally {
    stop.abort();
    await run;
  }
}

Deno.test("in memory: the horizon gauge reads 0 while the runner runs; the probe is let go when it stops", async () => {
  sdk();
  const telemetry = openTelemetry();
  let probes = 0;
  const app = await blogApp({
    ...telemetry,
    command: telemetry.command.bind(telemetry),
    commit: telemetry.commit.bind(telemetry),
    dispatch: telemetry.dispatch.bind(telemetry),
    processBatch: telemetry.processBatch.bind(telemetry),
    replay: telemetry.replay.bind(telemetry),
    send: telemetry.send.bind(telemetry),
    optimisticLockConflict: telemetry.optimisticLockConflict.bind(telemetry),
    consumerLag: telemetry.consumerLag.bind(telemetry),
    outboxLag: telemetry.outboxLag.bind(telemetry),
    replayProgress: telemetry.replayProgress.bind(telemetry),
    observeHorizon(probe) {
      probes++;
      const unobserve = telemetry.observeHorizon(probe);
      return () => {
        probes--;
        unobserve();
      };
    },
  });
  try {
    await running(app, async () => {
      assert.equal(probes, 1);
      assert.deepEqual(await blocked(), [0]);
    });
    assert.equal(probes, 0);
  } finally {
    await app.close();
  }
});

Deno.test({
  name:
    "on PostgreSQL: a transaction holding the horizon is reported in seconds, and 0 once it ends",
  ignore: serverUrl === undefined,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    sdk();
    const schema = schemaName("otel_horizon");
    const app = await createApp({
      ...asyncAppConfig(serverUrl!, schema),
      telemetry: openTelemetry(),
    });
    const blocker = await connectDatabase(serverUrl!);
    try {
      await app.migrator!.migrate();
      await running(app, async () => {
        const release = Promise.withResolvers<void>();
        const started = Promise.withResolvers<void>();
        const holding = blocker.transaction(async (tx) => {
          await tx.query("SELECT pg_current_xact_id()::text AS xid");
          started.resolve();
          await release.promise;
        });
        await started.promise;
        await new Promise((r) => setTimeout(r, 2 * POLL_MS.max + 50));
        const [held] = await blocked();
        assert.ok(
          held !== undefined && held >= POLL_MS.max / 1000,
          `blocked ${held} s`,
        );
        release.resolve();
        await holding;
        // other tests' transactions on the shared server may block too:
        // wait for a reading under the longest pause
        const end = performance.now() + 5_000;
        let after = await blocked();
        while ((after[0] ?? 1) > 0 && performance.now() < end) {
          await new Promise((r) => setTimeout(r, 50));
          after = await blocked();
        }
        assert.deepEqual(after, [0]);
      });
    } finally {
      await blocker.close();
      await app.close();
      await dropSchemas(serverUrl!, schema);
    }
  },
});
