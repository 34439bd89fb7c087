/**
 * A second process for the cross-process read-your-writes test.
 *
 * Usage: deno run -A _async_app_child.ts <url> <schema>
 *   Opens the app of `_async_app.ts`, executes one AddPost (titled
 *   "from the child") and prints `token <token> <aggregateId>`; it does not
 *   run the processors. Exits when its standard input closes.
 */
import { createApp } from "@sequent/core";
import { AddPost } from "../fixtures/blog.ts";
import { asyncAppConfig } from "./_async_app.ts";

const [url, schema] = Deno.args as [string, string];
const app = await createApp(asyncAppConfig(url, schema));
const id = crypto.randomUUID();
const token = await app.executeCommands(
  new AddPost({
    aggregateId: id,
    author: "child",
    title: "from the child",
    content: "…",
  }),
);
console.log(`token ${token} ${id}`);
for await (const _ of Deno.stdin.readable) {
  // wait for the end of the input
}
await app.close();
