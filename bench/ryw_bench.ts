/**
 * Read-your-writes latency on a PostgreSQL server: `ryw.wait_p50.ms` and
 * `ryw.wait_p99.ms`, from the moment `executeCommands` resolves (the
 * commit) to the moment `app.waitFor(token)` resolves here, while a worker
 * in another process (`deno task processors`, the async app of the tests)
 * projects the posts: the projector's row is then visible to this process.
 * Commands come at 200 per second for `RYW_SECONDS` (default 10; the issue
 * measures 60). No raw baseline: the figure is a latency bound (p99 ≤ 50
 * ms, p50 ≤ 10 ms).
 *
 * It starts with a `CHECKPOINT`: in `deno task bench` it follows benches
 * that write gigabytes of WAL, and the checkpoint they set off could be
 * writing their pages out during these seconds. Without it, two full
 * runs read p99 106 and 144 ms, while the bench alone read 17–23 ms (also
 * right after the processor or the read-model bench alone); with it, the
 * next full run read 20 ms.
 *
 * Run alone: `deno run -A bench/ryw_bench.ts`.
 */
import { createApp } from "@sequent/core";
import { connectDatabase, SqlError } from "../src/postgres/mod.ts";
import { AddPost } from "../tests/fixtures/blog.ts";
import { asyncAppConfig } from "../tests/app/_async_app.ts";
import { type Figure, figure } from "./figure.ts";

const CHILD = new URL("../tests/app/_processor_child.ts", import.meta.url);

/** The latency figures, on the server at `url`. */
export async function rywFigures(
  url: string,
  seconds: number,
  rate = 200,
): Promise<Figure[]> {
  const schema = `bench_${crypto.randomUUID().slice(0, 8)}`;
  // what the benches before this one wrote goes out to disk first (a
  // role without the right to checkpoint measures without it, and says so)
  const admin = await connectDatabase(url);
  try {
    await admin.execute("CHECKPOINT");
  } catch (error) {
    if (!(error instanceof SqlError && error.code === "42501")) throw error;
    console.error(`ryw: no CHECKPOINT first (${error.message})`);
  } finally {
    await admin.close();
  }
  const app = await createApp(asyncAppConfig(url, schema));
  await app.migrator!.migrate({ progress: false });
  const worker = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CHILD.pathname, url, schema, "2000"],
    stdin: "piped",
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  const waits: number[] = [];
  try {
    const interval = 1000 / rate;
    const start = performance.now();
    const pending: Promise<void>[] = [];
    for (let i = 0; performance.now() - start < seconds * 1000; i++) {
      const due = start + i * interval;
      const delay = due - performance.now();
      if (delay > 0) await new Promise((r) => setTimeout(r, delay));
      pending.push((async () => {
        const token = await app.executeCommands(
          new AddPost({
            aggregateId: crypto.randomUUID(),
            author: "ben",
            title: `post ${i}`,
            content: "…",
          }),
        );
        const committed = performance.now();
        await app.waitFor(token, {
          processors: ["AsyncTitleProjector"],
          timeoutMs: 30_000,
        });
        // the first second warms the worker up
        if (committed - start > 1_000) {
          waits.push(performance.now() - committed);
        }
      })());
    }
    await Promise.all(pending);
  } finally {
    const writer = worker.stdin.getWriter();
    await writer.close();
    await worker.status;
    await app.close();
    const admin = await connectDatabase(url);
    await admin.execute(
      `DROP SCHEMA IF EXISTS ${schema} CASCADE; DROP SCHEMA IF EXISTS ${schema}_view CASCADE`,
    );
    await admin.close();
  }
  waits.sort((a, b) => a - b);
  const at = (q: number) =>
    waits[Math.min(waits.length - 1, Math.floor(q * waits.length))] ?? 0;
  console.error(
    `read-your-writes: ${waits.length} waits at ${rate}/s, p50 ${
      at(0.5).toFixed(1)
    } ms, p99 ${at(0.99).toFixed(1)} ms, max ${
      (waits.at(-1) ?? 0).toFixed(1)
    } ms`,
  );
  return [
    figure("ryw.wait_p50.ms", at(0.5), "ms"),
    figure("ryw.wait_p99.ms", at(0.99), "ms"),
  ];
}

/** Every read-your-writes figure, on `DATABASE_URL` (default the local server). */
export async function run(_ms: number): Promise<Figure[]> {
  const url = Deno.env.get("DATABASE_URL") ??
    "postgres://postgres@127.0.0.1:5432/test";
  if (!url.startsWith("postgres")) return [];
  return await rywFigures(url, Number(Deno.env.get("RYW_SECONDS") ?? 10));
}

if (import.meta.main) {
  for (const f of await run(0)) console.log(JSON.stringify(f));
  console.log(JSON.stringify({ loadavg: Deno.loadavg() }));
}
