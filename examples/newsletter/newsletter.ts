/**
 * The newsletter: another program, in another process, that hears of the
 * blog's published posts through JetStream and mails (here: prints) each
 * one, `newsletter: <title>`, once, in the order they were published per
 * post. It is not a Sequent app: it keeps its inbox (the ids of the events
 * it handled) in a database of its own.
 *
 * deno run -A examples/newsletter/newsletter.ts   (NEWSLETTER_DATABASE_URL:
 * default the embedded database in memory; NATS_URL: default
 * 127.0.0.1:4222; BLOG_STREAM and BLOG_PREFIX: default BLOG and blog).
 * Stops on SIGINT or SIGTERM.
 */
import { EventConsumer } from "@sequent/core/nats";
import {
  connectDatabase,
  installInbox,
  PostgresInbox,
} from "@sequent/core/postgres";

const client = await connectDatabase(
  Deno.env.get("NEWSLETTER_DATABASE_URL") ?? "memory://",
);
await installInbox(client, { schema: "newsletter_inbox" });
const consumer = new EventConsumer({
  name: "newsletter",
  inbox: new PostgresInbox(client, { schema: "newsletter_inbox" }),
  servers: Deno.env.get("NATS_URL") ?? "127.0.0.1:4222",
  stream: Deno.env.get("BLOG_STREAM") ?? "BLOG",
  prefix: Deno.env.get("BLOG_PREFIX") ?? "blog",
  handler: (event) => {
    if (event.eventType === "PostPublished") {
      const { title } = event.payload as { title: string };
      console.log(`newsletter: ${title}`);
    }
    return Promise.resolve();
  },
});
consumer.start();
console.log("newsletter listening");
const stop = new Promise<void>((resolve) => {
  Deno.addSignalListener("SIGTERM", resolve);
  Deno.addSignalListener("SIGINT", resolve);
});
await stop;
await consumer.stop();
await client.close();
Deno.exit(0);
