/**
 * The blog: a Sequent app whose outbox relay publishes `PostPublished` to
 * the JetStream stream `BLOG` (subjects `blog.>`). Each line read from
 * standard input is a post's title: the post is added and published, and
 * `published <id> <title>` printed. At the end of the input it waits until
 * the relay has published everything, then stops.
 *
 * deno run -A examples/newsletter/blog.ts   (DATABASE_URL: default the
 * embedded database in memory; NATS_URL: default 127.0.0.1:4222;
 * BLOG_STREAM and BLOG_PREFIX: default BLOG and blog)
 */
import { createApp, silentLogger } from "@sequent/core";
import { OutboxRelay } from "@sequent/core/nats";
import {
  AddPost,
  Post,
  PostCommandHandler,
  PublishPost,
} from "./blog_domain.ts";

const app = await createApp({
  database: Deno.env.get("DATABASE_URL") ?? "memory://",
  commandHandlers: [new PostCommandHandler()],
  aggregates: [Post],
  logger: silentLogger,
});
const relay = new OutboxRelay({
  processors: app.processorStore!,
  eventTypes: ["PostPublished"],
  servers: Deno.env.get("NATS_URL") ?? "127.0.0.1:4222",
  stream: Deno.env.get("BLOG_STREAM") ?? "BLOG",
  prefix: Deno.env.get("BLOG_PREFIX") ?? "blog",
  pollMs: { min: 5, max: 100 },
});
relay.start();

let last = "";
const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream());
let rest = "";
for await (const chunk of lines) {
  const parts = (rest + chunk).split("\n");
  rest = parts.pop()!;
  for (const title of parts.map((p) => p.trim()).filter((p) => p !== "")) {
    const id = crypto.randomUUID();
    last = await app.executeCommands(
      new AddPost({ aggregateId: id, title }),
      new PublishPost({ aggregateId: id }),
    );
    console.log(`published ${id} ${title}`);
  }
}
// everything published: the relay's checkpoint has passed the last post
while (
  last !== "" &&
  app.processorStore!.reader.comparePositions(relay.status.checkpoint, last) < 0
) {
  await new Promise((resolve) => setTimeout(resolve, 20));
}
await relay.stop();
await app.close();
