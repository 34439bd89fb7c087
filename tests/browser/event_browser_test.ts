/**
 * The event browser over HTTP, on memory, the embedded database and the
 * server: every page answers, lists page by keyset, stored text comes out
 * escaped under a strict Content-Security-Policy, time travel rebuilds
 * states with the app's classes, the masked mode hides values, and the
 * admin actions need the hook and the CSRF token.
 */
import assert from "node:assert/strict";
import {
  AggregateRoot,
  type App,
  attrs,
  Command,
  CommandHandler,
  createApp,
  Event,
  InMemoryEventStore,
  InMemoryProcessorStore,
  Projector,
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
  Flagged,
  Report,
  ReportCommandHandler,
  type Seeded,
} from "./_browser_app.ts";

const ORIGIN = "http://browser.test";

/** A projector of this app's own, beside another app's FlagAuditor. */
class Indexer extends Projector {
  static {
    this.on(Flagged, () => {});
  }
}

/** A contact's e-mail; rows of an older shape are refused, quoting them. */
class ContactAdded extends Event.define("ContactAdded", {
  email: attrs.string(),
}) {
  static {
    this.upcast((payload) => {
      if (typeof payload.email !== "string") {
        throw new Error(
          `cannot migrate the e-mail ${JSON.stringify(payload.email)}`,
        );
      }
      return payload;
    });
  }
}

class AddContact extends Command.define("AddContact", {
  email: attrs.string().required(),
}) {}

/** Contacts by e-mail address: a map whose keys are personal data. */
class Contacts extends AggregateRoot {
  byEmail = new Map<string, number>();

  static first(command: AddContact): Contacts {
    const contacts = new Contacts(command.aggregateId);
    contacts.apply(ContactAdded, { email: command.email });
    return contacts;
  }

  static {
    this.on(ContactAdded, (contacts, event) => {
      contacts.byEmail.set(event.email ?? "", contacts.byEmail.size + 1);
    });
  }
}

class ContactCommandHandler extends CommandHandler {
  static {
    this.on(AddContact, (handler, command) => {
      handler.repository.addAggregate(Contacts.first(command));
    });
  }
}

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
        "a page cursor the store did not give is a 400 naming it, on every list",
        async () => {
          for (
            const path of [
              "/?cursor=abc",
              `/aggregates/${data.post}?cursor=abc`,
              `/commands/${data.publishCommand}?cursor=abc`,
              `/commands/${data.publishCommand}?cursor=9223372036854775808`,
            ]
          ) {
            const page = await get(plain, path);
            assert.equal(page.status, 400, path);
            assert.match(
              page.text,
              /Page cursor &quot;[^&]+&quot; is not valid/,
            );
          }
          const aggregate = await get(
            plain,
            `/aggregates/${data.post}?cursor=%`,
          );
          assert.equal(aggregate.status, 400);
          assert.match(
            aggregate.text,
            /<bdi>Post<\/bdi>/,
            "the rest of the page",
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

      await t.step(
        "a stored right-to-left override left open stays inside its own isolate",
        async () => {
          // one left open turns the rest of its block around unless an
          // isolate (<bdi>) ends it; inside a <pre> or <code> it turns only
          // the JSON's punctuation after it, an <option> is a block of its
          // own, and in an attribute it is not drawn
          const contained = /^(bdi|pre|code|option)$/;
          const paths = [
            "/",
            `/aggregates/${data.hostile}`,
            `/commands/${data.hostileCommand}`,
            `/correlations/${data.hostileCommand}`,
            `/aggregates/${data.hostile}/state?at=1`,
            ...CORPUS.map((_, i) => `/events/${data.hostile}/${i + 1}`),
          ];
          let found = 0;
          for (const path of paths) {
            const page = await get(plain, path);
            const open: string[] = [];
            for (
              const m of page.text.matchAll(
                /<(\/?)([a-z0-9]+)[^>]*>|\u202E[^\u202C<]*(?=<)/gi,
              )
            ) {
              if (m[2] === undefined) {
                found++;
                assert.ok(
                  open.some((tag) => contained.test(tag)),
                  `${path}: an open override in <${open.join("><")}>: ${
                    page.text.slice(m.index - 60, m.index + 40)
                  }`,
                );
              } else if (m[1] === "/") {
                open.splice(open.lastIndexOf(m[2].toLowerCase()));
              } else if (!/^(meta|link|input|br|img|hr)$/i.test(m[2])) {
                open.push(m[2].toLowerCase());
              }
            }
          }
          assert.ok(found > 10, `the override was shown (${found} times)`);
        },
      );

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

Deno.test("admin actions on another app's processor or an aggregate not parked change nothing and say why", async () => {
  const store = new InMemoryEventStore();
  const processorStore = new InMemoryProcessorStore(store);
  // one app runs FlagAuditor and parks a report; the browser is another's
  const auditing = await createApp({
    eventStore: store,
    processorStore,
    commandHandlers: [new ReportCommandHandler()],
    aggregates: [Report],
    processors: [FlagAuditor],
    logger: silentLogger,
  });
  const browsing = await createApp({
    eventStore: store,
    processorStore,
    commandHandlers: [new ReportCommandHandler()],
    aggregates: [Report],
    processors: [Indexer],
    logger: silentLogger,
  });
  try {
    const flagged = crypto.randomUUID();
    await auditing.executeCommands(
      new FileReport({ aggregateId: flagged, note: "n" }),
    );
    await auditing.processors!.catchUp();
    await browsing.processors!.catchUp();
    const browser = createEventBrowser(browsing, {
      admin: { authorize: () => true },
    });
    const page = await get(browser, "/processors");
    assert.ok(page.text.includes(`/aggregates/${flagged}`), "listed");
    assert.doesNotMatch(
      page.text,
      /<form[^>]*method="post"/,
      "no forms for a processor only its own app can act on",
    );
    assert.match(page.text, /Run by another application/);
    const cookie = page.headers.get("set-cookie")!.split(";")[0]!;
    // a form of the browser's own would carry the cookie's token (double
    // submit): a request crafted with it is what is left to refuse
    const token = cookie.slice(cookie.indexOf("=") + 1);
    assert.ok(token, "the page still sets a token");
    const post = (path: string) =>
      get(browser, path, {
        method: "POST",
        headers: {
          cookie,
          "content-type": "application/x-www-form-urlencoded",
        },
        body: `csrf=${token}`,
      });
    const other = await post(`/processors/FlagAuditor/parked/${flagged}/retry`);
    assert.equal(other.status, 409);
    assert.match(other.text, /No processor/);
    const notParked = await post(
      `/processors/Indexer/parked/${crypto.randomUUID()}/skip`,
    );
    assert.equal(notParked.status, 409);
    assert.match(notParked.text, /is not set aside by processor Indexer/);
    const [audit] = (await auditing.processors!.status()).filter((s) =>
      s.name === "FlagAuditor"
    );
    assert.equal(audit?.parked[0]?.request, undefined, "nothing was asked");
    // the notice after an action is only said of this app's processors
    const claimed = await get(
      browser,
      `/processors?done=retry&processor=Payments&aggregate=${flagged}`,
    );
    assert.doesNotMatch(claimed.text, /Asked/);
    const real = await get(
      browser,
      `/processors?done=skip&processor=Indexer&aggregate=${flagged}`,
    );
    assert.match(real.text, /Asked <bdi>Indexer<\/bdi> to skip/);
  } finally {
    await browsing.close();
    await auditing.close();
  }
});

Deno.test("the masked mode hides user ids, maps' keys and what a reader's error quotes", async () => {
  const app = await createApp({
    eventStore: new InMemoryEventStore(),
    commandHandlers: [new ContactCommandHandler()],
    aggregates: [Contacts],
    logger: silentLogger,
  });
  try {
    const id = crypto.randomUUID();
    const command = crypto.randomUUID();
    await app.executeCommands(
      new AddContact({
        aggregateId: id,
        commandId: command,
        email: "alice@example.com",
        userId: "bob@example.org",
      }),
    );
    // a second row the application's upcaster refuses, quoting it
    await app.eventStore.transaction((tx) =>
      tx.commit({
        commandId: crypto.randomUUID(),
        commandType: "AddContact",
        aggregateId: id,
        userId: undefined,
        eventAggregateId: undefined,
        eventSequenceNumber: undefined,
        payload: "{}",
      }, [{
        aggregateId: id,
        aggregateType: "Contacts",
        partitionKey: "",
        snapshotThreshold: undefined,
        uniqueKeys: {},
        events: [{
          aggregateId: id,
          sequenceNumber: 2,
          createdAt: new Date(),
          eventType: "ContactAdded",
          payload: JSON.stringify({ email: { old: "carol@example.net" } }),
        }],
      }])
    );
    const full = createEventBrowser(app);
    const masked = createEventBrowser(app, { payloads: "masked" });
    const pages = [
      `/events/${id}/1`,
      `/commands/${command}`,
      `/aggregates/${id}/state?at=1`,
      `/aggregates/${id}/state?at=2`,
    ];
    const shown = /[a-z]+@example\.(com|org|net)/g;
    for (const path of pages) {
      const page = await get(masked, path);
      assert.equal(page.status, 200, path);
      assert.deepEqual(page.text.match(shown), null, path);
    }
    // what the full mode shows, so the masked one hid something
    const fullText = (await Promise.all(pages.map((p) => get(full, p))))
      .map((p) => p.text).join(" ");
    for (
      const text of [
        "bob@example.org",
        "&quot;alice@example.com&quot;: 1",
        "carol@example.net",
      ]
    ) assert.ok(fullText.includes(text), text);
    const state = await get(masked, `/aggregates/${id}/state?at=1`);
    assert.match(state.text, /&quot;••• 1&quot;: &quot;•••&quot;/);
    const unreadable = await get(masked, `/aggregates/${id}/state?at=2`);
    assert.match(
      unreadable.text,
      /Event 2 \(ContactAdded\) cannot be read with the application&#39;s classes/,
    );
  } finally {
    await app.close();
  }
});

Deno.test("a store that fails is the server's fault: the search answers 500, not 400", async () => {
  const store = new InMemoryEventStore();
  const app = await createApp({ eventStore: store, commandHandlers: [] });
  try {
    store.searchEvents = () => Promise.reject(new Error("connection lost"));
    const page = await get(createEventBrowser(app), "/?type=PostAdded");
    assert.equal(page.status, 500);
    assert.match(page.text, /connection lost/);
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
