/**
 * The event browser over HTTP, on memory, the embedded database and the
 * server: every page answers, lists page by keyset, stored text comes out
 * escaped under a strict Content-Security-Policy, time travel rebuilds
 * states with the app's classes, the masked mode hides values, and the
 * admin actions need the hook and the CSRF token.
 */
import assert from "node:assert/strict";
import {
  type App,
  createApp,
  InMemoryEventStore,
  silentLogger,
} from "@sequent/core";
import {
  createEventBrowser,
  type EventBrowser,
  type EventBrowserOptions,
} from "@sequent/core/browser";
import {
  backends,
  CORPUS,
  FileReport,
  FlagAuditor,
  Report,
  ReportCommandHandler,
  type Seeded,
} from "./_browser_app.ts";

const ORIGIN = "http://browser.test";

async function get(
  browser: EventBrowser,
  path: string,
  init?: RequestInit,
): Promise<{ status: number; text: string; headers: Headers }> {
  const response = await browser.fetch(
    new Request(`${ORIGIN}${path}`, { redirect: "manual", ...init }),
  );
  return {
    status: response.status,
    // whitespace between tags is the formatter's, not the page's meaning
    text: (await response.text()).replace(/\s+/g, " "),
    headers: response.headers,
  };
}

/** The links of a page whose path starts with `prefix`. */
function links(text: string, prefix: string): string[] {
  return [...text.matchAll(/href="([^"]+)"/g)]
    .map((m) => m[1]!.replaceAll("&amp;", "&"))
    .filter((href) => href.startsWith(prefix));
}

function assertNoCorpusMarkup(text: string, where: string) {
  for (const piece of CORPUS) {
    if (!/[<>"']/.test(piece)) continue;
    assert.ok(!text.includes(piece), `${where} holds ${piece} unescaped`);
  }
  assert.doesNotMatch(text, /<script/i, `${where} holds a script element`);
  for (const tag of text.matchAll(/<[a-z][^>]*>/gi)) {
    const bare = tag[0].replace(/"[^"]*"/g, '""');
    assert.doesNotMatch(bare, /\son[a-z]+\s*=/i, `${where}: ${tag[0]}`);
  }
}

for (const backend of backends()) {
  Deno.test(`the event browser on ${backend.name}`, async (t) => {
    let opened: { app: App; data: Seeded } | undefined;
    try {
      opened = await backend.open();
      const { app, data } = opened;
      const browser = (options: EventBrowserOptions = {}) =>
        createEventBrowser(app, options);
      const plain = browser();

      await t.step(
        "every page carries a strict Content-Security-Policy",
        async () => {
          for (
            const path of [
              "/",
              `/aggregates/${data.post}`,
              `/events/${data.post}/1`,
              `/commands/${data.publishCommand}`,
              `/correlations/${data.publishCommand}`,
              `/aggregates/${data.post}/state?at=2`,
              "/processors",
              "/no/such/page",
            ]
          ) {
            const page = await get(plain, path);
            const csp = page.headers.get("content-security-policy") ?? "";
            assert.match(csp, /default-src 'self'/, path);
            assert.match(csp, /script-src 'none'/, path);
            assert.equal(page.headers.get("x-content-type-options"), "nosniff");
          }
        },
      );

      await t.step(
        "the search lists events newest first and filters by type, aggregate, command and time",
        async () => {
          const all = await get(plain, "/");
          assert.equal(all.status, 200);
          const firstEvent = links(all.text, "/events/")[0];
          assert.ok(firstEvent?.startsWith(`/events/${data.hostile}/`));
          const published = await get(plain, "/?type=PostPublished");
          assert.deepEqual(links(published.text, "/events/"), [
            `/events/${data.post}/5`,
          ]);
          const ofPost = await get(plain, `/?aggregate=${data.post}`);
          assert.deepEqual(
            links(ofPost.text, "/events/"),
            [7, 6, 5, 4, 3, 2, 1].map((n) => `/events/${data.post}/${n}`),
          );
          const ofCommand = await get(
            plain,
            `/?command=${data.publishCommand}`,
          );
          assert.deepEqual(
            links(ofCommand.text, "/events/"),
            [`/events/${data.post}/5`],
            "the command's own event (its workflow's command has its own)",
          );
          const future = await get(plain, "/?from=2999-01-01T00:00");
          assert.match(future.text, /No events\./);
          const bad = await get(plain, "/?from=yesterday");
          assert.equal(bad.status, 400);
          assert.match(
            bad.text,
            /&quot;From&quot; is not a date and time: yesterday/,
          );
          const notAnId = await get(plain, "/?aggregate=not-a-uuid");
          assert.equal(notAnId.status, 200);
          assert.match(notAnId.text, /No events\./);
        },
      );

      await t.step(
        "lists page by keyset: pages of two give each event once",
        async () => {
          const small = browser({ pageSize: 2 });
          const seen: string[] = [];
          let next: string | undefined = `/?aggregate=${data.post}`;
          for (let pages = 0; next !== undefined; pages++) {
            assert.ok(pages < 10, "the pages end");
            const page = await get(small, next);
            const events = links(page.text, "/events/");
            assert.ok(events.length <= 2);
            seen.push(...events);
            next = links(page.text, "/?").find((h) => h.includes("cursor="));
          }
          assert.deepEqual(
            seen,
            [7, 6, 5, 4, 3, 2, 1].map((n) => `/events/${data.post}/${n}`),
          );
        },
      );

      await t.step(
        "an event id and a correlation id go to their pages",
        async () => {
          const event = await get(plain, `/?event=${data.post}/2`);
          assert.equal(event.status, 303);
          assert.equal(event.headers.get("location"), `/events/${data.post}/2`);
          const correlation = await get(
            plain,
            `/?correlation=${data.publishCommand}`,
          );
          assert.equal(
            correlation.headers.get("location"),
            `/correlations/${data.publishCommand}`,
          );
          const bad = await get(plain, "/?event=nonsense");
          assert.equal(bad.status, 400);
        },
      );

      await t.step(
        "the aggregate page shows its events, type and keys",
        async () => {
          const page = await get(plain, `/aggregates/${data.post}`);
          assert.equal(page.status, 200);
          assert.match(page.text, /<bdi>Post<\/bdi>/);
          assert.equal(links(page.text, "/events/").length, 7);
          const missing = await get(
            plain,
            `/aggregates/${crypto.randomUUID()}`,
          );
          assert.equal(missing.status, 404);
        },
      );

      await t.step(
        "the event page shows the payload, its command and what it caused",
        async () => {
          const page = await get(plain, `/events/${data.post}/5`);
          assert.equal(page.status, 200);
          assert.match(page.text, /PostPublished/);
          assert.match(page.text, /2026-12-05/);
          assert.ok(
            page.text.includes(`/commands/${data.publishCommand}`),
            "links the command that stored it",
          );
          assert.match(page.text, /EditPost/, "the workflow's command");
          assert.ok(page.text.includes(`/events/${data.post}/6`));
          const missing = await get(plain, `/events/${data.post}/99`);
          assert.equal(missing.status, 404);
        },
      );

      await t.step(
        "the causation tree runs from the root command to the workflow's events",
        async () => {
          const edit = await get(plain, `/events/${data.post}/6`);
          const editCommand = links(edit.text, "/commands/")[0]!;
          const tree = await get(
            plain,
            editCommand.replace("/commands/", "/correlations/"),
          );
          assert.equal(tree.status, 200);
          const order = [...tree.text.matchAll(
            /<span class="kind">(command|event)<\/span> <a [^>]*>(?:<bdi>)?([^<]+)/g,
          )].map((m) => `${m[1]} ${m[2]}`);
          assert.deepEqual(order, [
            "command PublishPost",
            "event PostPublished #5",
            "command EditPost",
            "event PostTitleChanged #6",
            "event PostContentChanged #7",
          ]);
          assert.match(tree.text, /<li class="current" ?>/);
        },
      );

      await t.step(
        "time travel rebuilds the state at an event with the app's class, and what changed",
        async () => {
          const at3 = await get(plain, `/aggregates/${data.post}/state?at=3`);
          assert.equal(at3.status, 200);
          assert.match(at3.text, /&quot;title&quot;: &quot;First&quot;/);
          assert.match(
            at3.text,
            /<tr class="diff-changed"> ?<td><bdi>title<\/bdi><\/td> ?<td>changed<\/td> ?<td><code>null<\/code><\/td> ?<td><code>&quot;First&quot;<\/code><\/td> ?<\/tr>/,
          );
          const at7 = await get(plain, `/aggregates/${data.post}/state?at=7`);
          assert.match(at7.text, /&quot;published&quot;: true/);
          assert.match(at7.text, /&quot;title&quot;: &quot;Published!&quot;/);
          const before = await get(
            plain,
            `/aggregates/${data.post}/state?asOf=2000-01-01T00:00`,
          );
          assert.equal(before.status, 200);
          assert.match(before.text, /had no events before 2000-01-01/);
          const hostile = await get(
            plain,
            `/aggregates/${data.hostile}/state?at=1`,
          );
          assert.match(
            hostile.text,
            /declares no aggregate class for the type/,
          );
          assertNoCorpusMarkup(hostile.text, "the hostile state page");
        },
      );

      await t.step("stored text is escaped on every page", async () => {
        const paths = [
          "/",
          `/aggregates/${data.hostile}`,
          `/commands/${data.hostileCommand}`,
          `/correlations/${data.hostileCommand}`,
          ...CORPUS.map((_, i) => `/events/${data.hostile}/${i + 1}`),
        ];
        for (const path of paths) {
          const page = await get(plain, path);
          assert.equal(page.status, 200, path);
          assertNoCorpusMarkup(page.text, path);
        }
        const event = await get(plain, `/events/${data.hostile}/1`);
        assert.ok(
          event.text.includes("&lt;script&gt;window.__pwned=1&lt;/script&gt;"),
          "the text itself is shown",
        );
      });

      await t.step("the masked mode shows keys and hides values", async () => {
        const masked = browser({ payloads: "masked" });
        const event = await get(masked, `/events/${data.post}/3`);
        assert.match(event.text, /&quot;title&quot;: &quot;•••&quot;/);
        assert.doesNotMatch(event.text, /First/);
        const state = await get(masked, `/aggregates/${data.post}/state?at=3`);
        assert.doesNotMatch(state.text, /First/);
        await app.processors!.catchUp();
        const processors = await get(masked, "/processors");
        assert.ok(
          processors.text.includes(`/aggregates/${data.flagged}`),
          "the parked report is listed",
        );
        assert.ok(
          !processors.text.includes("refused:"),
          "no error message, which may quote stored data",
        );
        const command = await get(masked, `/commands/${data.hostileCommand}`);
        assert.ok(!command.text.includes("0: "), "no payload value shown");
      });

      await t.step(
        "works under a base path, from Deno.serve or a mount",
        async () => {
          const mounted = browser({ basePath: "/ops/events" });
          const full = await get(
            mounted,
            `/ops/events/aggregates/${data.post}`,
          );
          const stripped = await get(mounted, `/aggregates/${data.post}`);
          assert.equal(full.status, 200);
          assert.equal(stripped.text, full.text);
          assert.ok(
            links(full.text, "/").every((h) => h.startsWith("/ops/events/")),
            "every link stays under the base path",
          );
          assert.throws(
            () => browser({ basePath: "events/" }),
            /basePath must be "" or a path such as "\/events"/,
          );
        },
      );

      await t.step(
        "the processors page shows the parked aggregate; admin actions need the hook and the CSRF token",
        async () => {
          await app.processors!.catchUp();
          const readOnly = await get(plain, "/processors");
          assert.match(readOnly.text, /FlagAuditor/);
          assert.match(readOnly.text, /<dt>State<\/dt> ?<dd>caught up<\/dd>/);
          assert.ok(readOnly.text.includes(`/aggregates/${data.flagged}`));
          assertNoCorpusMarkup(readOnly.text, "the processors page");
          assert.doesNotMatch(readOnly.text, /<form[^>]*method="post"/);
          const action = `/processors/FlagAuditor/parked/${data.flagged}/retry`;
          const refused = await get(plain, action, { method: "POST" });
          assert.equal(refused.status, 403);

          const admin = browser({
            admin: {
              authorize: (r) => r.headers.get("authorization") === "Bearer ok",
            },
          });
          const auth = { authorization: "Bearer ok" };
          const page = await get(admin, "/processors", { headers: auth });
          const cookie = page.headers.get("set-cookie") ?? "";
          assert.match(cookie, /SameSite=Strict/);
          assert.match(cookie, /HttpOnly/);
          const token = /name="csrf" value="([^"]+)"/.exec(page.text)?.[1];
          assert.ok(token, "the form carries the token");
          const cookiePair = cookie.split(";")[0]!;
          const post = (body: string, headers: Record<string, string>) =>
            get(admin, action, {
              method: "POST",
              headers: {
                "content-type": "application/x-www-form-urlencoded",
                ...headers,
              },
              body,
            });
          assert.equal(
            (await post(`csrf=${token}`, auth)).status,
            403,
            "no cookie",
          );
          assert.equal(
            (await post("csrf=wrong", { ...auth, cookie: cookiePair })).status,
            403,
            "a wrong token",
          );
          assert.equal(
            (await post(`csrf=${token}`, { cookie: cookiePair })).status,
            403,
            "not authorised",
          );
          const done = await post(`csrf=${token}`, {
            ...auth,
            cookie: cookiePair,
          });
          assert.equal(done.status, 303);
          const [status] = (await app.processors!.status()).filter((s) =>
            s.name === "FlagAuditor"
          );
          assert.equal(status?.parked[0]?.request, "retry");
        },
      );
    } finally {
      await opened?.app.close();
    }
  });
}

Deno.test("the processors page reads the 100 oldest parked aggregates, and says how many more there are", async () => {
  const app = await createApp({
    eventStore: new InMemoryEventStore(),
    commandHandlers: [new ReportCommandHandler()],
    aggregates: [Report],
    processors: [FlagAuditor],
    logger: silentLogger,
  });
  try {
    for (let i = 0; i < 103; i++) {
      await app.executeCommands(
        new FileReport({ aggregateId: crypto.randomUUID(), note: `n${i}` }),
      );
    }
    await app.processors!.catchUp();
    const [status] = await app.processors!.status();
    assert.equal(status?.parkedCount, 103);
    // the page asks the store for 100 (processor_runner_test pins that a
    // limit is what the stores read)
    const runner = app.processors!;
    const status0 = runner.status.bind(runner);
    const asked: unknown[] = [];
    runner.status = (options) => {
      asked.push(options?.parkedLimit);
      return status0(options);
    };
    const page = await get(createEventBrowser(app), "/processors");
    assert.deepEqual(asked, [100]);
    assert.equal(page.status, 200);
    assert.equal(page.text.match(/refused: n\d+/g)?.length, 100);
    assert.match(
      page.text,
      /3 more parked aggregates are not shown: see processors status/,
    );
  } finally {
    await app.close();
  }
});

Deno.test("the event browser refuses bad options with a clear message", async () => {
  const app = await createApp({
    eventStore: new InMemoryEventStore(),
    commandHandlers: [],
  });
  try {
    assert.throws(
      () => createEventBrowser(app, { pageSize: 0 }),
      /pageSize must be an integer from 1 to 1,000, got 0/,
    );
    assert.throws(
      () =>
        createEventBrowser(app, {
          payloads: "none" as unknown as "full",
        }),
      /payloads option must be "full" or "masked", got "none"/,
    );
  } finally {
    await app.close();
  }
});
