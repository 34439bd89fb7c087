/**
 * The newsletter example runs: the blog (a Sequent app with its outbox
 * relay) and the newsletter (a plain program with an inbox) in processes
 * of their own, on the NATS server at `NATS_URL`; every post the blog
 * publishes reaches the newsletter once.
 */
import assert from "node:assert/strict";
import { deleteStream, freshStream, natsUrl } from "../nats/_nats.ts";

const dir = new URL("../../examples/newsletter/", import.meta.url);

function start(script: string, env: Record<string, string>): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(script, dir).pathname],
    env,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** Collects a process's output lines as they come. */
function lines(
  p: Deno.ChildProcess,
): { readonly all: string[]; done: Promise<void> } {
  const all: string[] = [];
  const done = (async () => {
    let rest = "";
    for await (const chunk of p.stdout.pipeThrough(new TextDecoderStream())) {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop()!;
      all.push(...parts);
    }
  })();
  return { all, done };
}

Deno.test({
  name:
    "the newsletter example: posts the blog publishes reach the newsletter, in another process, once each",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const { stream, prefix } = freshStream();
    const env = { NATS_URL: natsUrl, BLOG_STREAM: stream, BLOG_PREFIX: prefix };
    const titles = ["Hello", "Event sourcing in Deno", "Partitions", "Goodbye"];
    const blog = start("blog.ts", env);
    const blogOut = lines(blog);
    const writer = blog.stdin.getWriter();
    await writer.write(new TextEncoder().encode(`${titles.join("\n")}\n`));
    await writer.close();
    const blogStatus = await blog.status;
    await blogOut.done;
    const blogErr = await new Response(blog.stderr).text();
    assert.equal(blogStatus.code, 0, blogErr);
    assert.deepEqual(
      blogOut.all.map((l) => l.replace(/^published \S+ /, "")),
      titles,
    );
    const newsletter = start("newsletter.ts", env);
    const out = lines(newsletter);
    try {
      const deadline = Date.now() + 60_000;
      while (
        out.all.filter((l) => l.startsWith("newsletter: ")).length <
          titles.length && Date.now() < deadline
      ) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      // nothing more comes: each post once
      await new Promise((resolve) => setTimeout(resolve, 500));
    } finally {
      newsletter.kill("SIGTERM");
      const status = await newsletter.status;
      await out.done;
      const err = await new Response(newsletter.stderr).text();
      assert.equal(status.code, 0, err);
      await deleteStream(stream);
    }
    assert.deepEqual(
      out.all.filter((l) => l.startsWith("newsletter: ")).sort(),
      titles.map((t) => `newsletter: ${t}`).sort(),
    );
  },
});
