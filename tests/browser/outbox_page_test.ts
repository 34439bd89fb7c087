/**
 * The event browser's outbox page, over HTTP with a hand-made
 * `OutboxView` (a port: the page test needs no broker): the table per
 * partition with links to the events, hostile owner names, ids and
 * headers escaped under the strict Content-Security-Policy, an error
 * message (not a hang) when the view fails, and the page and its
 * navigation link only with the `outbox` option.
 */
import assert from "node:assert/strict";
import { createApp } from "@sequent/core";
import {
  createEventBrowser,
  type EventBrowser,
  type OutboxView,
} from "@sequent/core/browser";
import { CORPUS, HOSTILE } from "./_browser_app.ts";
import { fakeView, hostilePartitions } from "./_outbox_views.ts";

const ORIGIN = "http://browser.test";

async function get(
  browser: EventBrowser,
  path: string,
): Promise<{ status: number; text: string; headers: Headers }> {
  const response = await browser.fetch(new Request(`${ORIGIN}${path}`));
  return {
    status: response.status,
    text: await response.text(),
    headers: response.headers,
  };
}

function assertNoCorpusMarkup(text: string, where: string) {
  for (const piece of CORPUS) {
    if (!/[<>"']/.test(piece)) continue;
    assert.ok(!text.includes(piece), `${where} holds ${piece} unescaped`);
  }
  assert.doesNotMatch(text, /<script/i, `${where} holds a script element`);
  assert.doesNotMatch(text, /<style/i, `${where} holds a style element`);
  assert.doesNotMatch(text, /\sstyle\s*=/i, `${where} holds a style attribute`);
  for (const tag of text.matchAll(/<[a-z][^>]*>/gi)) {
    const bare = tag[0].replace(/"[^"]*"/g, '""');
    assert.doesNotMatch(bare, /\son[a-z]+\s*=/i, `${where}: ${tag[0]}`);
  }
}

function assertStrictHeaders(headers: Headers) {
  const csp = headers.get("content-security-policy") ?? "";
  assert.match(csp, /default-src 'self'/);
  assert.match(csp, /script-src 'none'/);
  assert.equal(headers.get("x-content-type-options"), "nosniff");
  assert.match(headers.get("content-type") ?? "", /^text\/html/);
}

const POST = "6ba7b810-9dad-11d1-80b4-00c04fd430c8";
const partitions = () => hostilePartitions(POST);

Deno.test("the event browser's outbox page", async (t) => {
  const app = await createApp({ database: "memory://", commandHandlers: [] });
  try {
    await t.step("without the outbox option: no page, no link", async () => {
      const plain = createEventBrowser(app);
      const home = await get(plain, "/");
      assert.equal(home.status, 200);
      assert.ok(!home.text.includes('href="/outbox"'));
      assert.ok(!/>Outbox</.test(home.text));
      const outbox = await get(plain, "/outbox");
      assert.equal(outbox.status, 404);
      assertStrictHeaders(outbox.headers);
    });

    await t.step(
      "with it: a row per partition, events linked, hostile text escaped",
      async () => {
        const browser = createEventBrowser(app, {
          basePath: "/events",
          outbox: fakeView(() => Promise.resolve(partitions()), HOSTILE),
        });
        const home = await get(browser, "/events/");
        assert.ok(home.text.includes('<a href="/events/outbox">Outbox</a>'));
        const page = await get(browser, "/events/outbox");
        assert.equal(page.status, 200);
        assertStrictHeaders(page.headers);
        assertNoCorpusMarkup(page.text, "the outbox page");
        assert.ok(page.text.includes('<a href="/events/outbox">Outbox</a>'));
        // the rows, in order
        const rows = [...page.text.matchAll(/<tr>\s*<td>(\d+)<\/td>/g)].map(
          (m) => Number(m[1]),
        );
        assert.deepEqual(rows, [0, 1, 2, 3]);
        assert.ok(
          page.text.includes(
            `<a href="/events/events/${POST}/3"><bdi>${POST}/3</bdi></a>`,
          ),
        );
        assert.ok(page.text.includes("<td>41</td>"));
        assert.ok(page.text.includes('datetime="2026-12-05T10:00:00.000Z"'));
        assert.ok(page.text.includes("In step"));
        assert.ok(page.text.includes("Checkpoint behind the stream"));
        assert.ok(page.text.includes("No message"));
        assert.ok(page.text.includes("(nobody)"));
        assert.ok(page.text.includes("(start)"));
        assert.match(
          page.text,
          /4 partitions\. In step: 1 · Checkpoint behind the stream: 1 · No message: 1 · Unknown \(no store position\): 1\./,
        );
        // the hostile aggregate id: escaped in the text, encoded in the link
        assert.ok(
          page.text.includes(
            `href="/events/events/${encodeURIComponent(CORPUS[0]!)}/7"`,
          ),
        );
        assert.ok(
          page.text.includes("&lt;script&gt;window.__pwned=1&lt;/script&gt;/7"),
        );
        // the owner, the checkpoint and the relay's name, escaped
        assert.ok(page.text.includes("&lt;img src=x onerror=&quot;"));
        assert.ok(page.text.includes("&lt;style&gt;body{display:none}"));
        // every link stays inside the browser
        for (const m of page.text.matchAll(/href="([^"]*)"/g)) {
          assert.match(m[1]!, /^\/events\//, m[1]);
        }
      },
    );

    await t.step(
      "a view that fails gives an error message, escaped",
      async () => {
        const browser = createEventBrowser(app, {
          outbox: fakeView(() =>
            Promise.reject(new Error(`NATS at ${HOSTILE} did not answer`))
          ),
        });
        const page = await get(browser, "/outbox");
        assert.equal(page.status, 503);
        assertStrictHeaders(page.headers);
        assertNoCorpusMarkup(page.text, "the outbox error page");
        assert.match(page.text, /role="alert"/);
        assert.ok(page.text.includes("did not answer"));
        assert.ok(page.text.includes('<a href="/outbox">Outbox</a>'));
      },
    );

    await t.step("no partition recorded yet", async () => {
      const browser = createEventBrowser(app, {
        outbox: fakeView(() => Promise.resolve([])),
      });
      const page = await get(browser, "/outbox");
      assert.equal(page.status, 200);
      assert.match(page.text, /the relay has not run yet/);
    });

    await t.step("at most 1,024 rows", async () => {
      const many = Array.from({ length: 2_000 }, (_, i) => ({
        ...partitions()[2]!,
        partition: i,
      }));
      const browser = createEventBrowser(app, {
        outbox: fakeView(() => Promise.resolve(many)),
      });
      const page = await get(browser, "/outbox");
      assert.equal(
        [...page.text.matchAll(/<tr>\s*<td>\d+<\/td>/g)].length,
        1024,
      );
    });

    await t.step("a bad outbox option is refused", () => {
      assert.throws(
        () =>
          createEventBrowser(app, {
            outbox: {} as unknown as OutboxView,
          }),
        /outbox option must be an OutboxView/,
      );
    });
  } finally {
    await app.close();
  }
});
