/**
 * A processor worker for the crash and leadership tests.
 *
 * Usage: deno run -A _processor_child.ts <url> <schema> <leaseMs>
 *   Opens the app of `_async_app.ts` and runs its processors, as
 *   `deno task processors` does, printing `running <owner>` first. Runs
 *   until killed, or until its standard input closes (then it stops and
 *   prints `stopped`).
 */
import { createApp } from "@sequent/core";
import { asyncAppConfig } from "./_async_app.ts";

const [url, schema, leaseMs] = Deno.args as [string, string, string];
const app = await createApp(asyncAppConfig(url, schema, Number(leaseMs)));
const stop = new AbortController();
const running = app.processors!.run({ signal: stop.signal });
console.log(`running ${app.processors!.owner}`);
for await (const _ of Deno.stdin.readable) {
  // wait for the end of the input
}
stop.abort();
await running;
await app.close();
console.log("stopped");
