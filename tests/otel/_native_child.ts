/**
 * Run by `native_export_test.ts` under `OTEL_DENO=true`: the blog app with
 * `openTelemetry()` and nothing else of OpenTelemetry; Deno's built-in
 * export sends what it records to the test's sink. Executes one command
 * inside a request of `Deno.serve` (whose span Deno makes), runs the
 * processors once, and waits for a metric export before it exits.
 * Prints the `traceparent` stored with the command (JSON).
 */
import type { InMemoryEventStore } from "@sequent/core";
import { openTelemetry } from "@sequent/core/otel";
import { AddPost, blogApp } from "./_blog.ts";

const app = await blogApp(openTelemetry());
const id = crypto.randomUUID();
const server = Deno.serve(
  { port: 0, hostname: "127.0.0.1", onListen() {} },
  async () => {
    await app.executeCommands(
      new AddPost({
        aggregateId: id,
        title: "t",
        author: "a",
        body: "b",
      }),
    );
    return new Response("ok");
  },
);
const response = await fetch(`http://127.0.0.1:${server.addr.port}/posts`, {
  method: "POST",
});
await response.text();
await app.processors!.round();
// the gauges are read at the next metric export
await new Promise((resolve) =>
  setTimeout(resolve, Number(Deno.env.get("WAIT_MS") ?? 1_500))
);
const record = await (app.eventStore as InMemoryEventStore).commandForEvent(
  id,
  1,
);
console.log(JSON.stringify(record?.traceparent ?? null));
await server.shutdown();
await app.close();
