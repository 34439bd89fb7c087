/**
 * The outbox page in Debian's Chromium (playwright-core), with a
 * hand-made `OutboxView` holding the injection corpus in owner names,
 * checkpoints, subjects, event types and an aggregate id: no script of
 * the corpus runs (the sentinel global stays unset), no
 * Content-Security-Policy violation or console error is reported, the
 * corpus shows as text, axe-core finds no serious or critical
 * accessibility violation, and a partition's last event links to the
 * event's page. Left out, saying why, where Chromium is missing.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import AxeBuilder from "npm:@axe-core/playwright@4.14.1";
import { serveEventBrowser } from "@sequent/core/browser";
import type { OutboxPartitionView, OutboxView } from "@sequent/core/browser";
import { browserMissing, type Page, withBrowser } from "../cli/_browser.ts";
import { backends, CORPUS, HOSTILE } from "./_browser_app.ts";

const SENTINEL_SETUP = `
  window.__csp = [];
  document.addEventListener("securitypolicyviolation", (e) => {
    window.__csp.push(e.violatedDirective + " " + e.blockedURI);
  });
`;

async function check(page: Page, errors: string[], name: string, dir: string) {
  await page.screenshot({ path: join(dir, `${name}.png`), fullPage: true });
  const pwned = await page.evaluate(() =>
    (globalThis as { __pwned?: unknown }).__pwned
  );
  assert.equal(pwned, undefined, `${name}: a stored script ran`);
  const csp = await page.evaluate(() =>
    (globalThis as { __csp?: string[] }).__csp ?? ["sentinel missing"]
  );
  assert.deepEqual(csp, [], `${name}: CSP violations`);
  assert.deepEqual(errors, [], `${name}: console errors`);
  const axe = await new AxeBuilder({ page }).analyze();
  const serious = axe.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) =>
      `${v.id}: ${v.help} (${
        v.nodes.map((n) => n.target.join(" ")).join(", ")
      })`
    );
  assert.deepEqual(serious, [], `${name}: accessibility`);
}

Deno.test({
  name:
    "the outbox page in Chromium: the injection corpus inert, no console error, accessible, events linked",
  ignore: browserMissing("outbox_page_chromium_test.ts"),
  async fn() {
    const memory = backends().find((b) => b.name === "memory")!;
    const { app, data } = await memory.open();
    const at = new Date();
    const rows: OutboxPartitionView[] = [
      {
        partition: 0,
        owner: "relay-a",
        checkpoint: "0000000000000009",
        lastMessage: {
          streamSequence: 12,
          subject: `blog.0.Post.${data.post}`,
          storedAt: at,
          aggregateId: data.post,
          sequenceNumber: 2,
          eventType: "PostPublished",
          position: "0000000000000004",
        },
        state: "in step",
      },
      {
        partition: 1,
        owner: HOSTILE,
        checkpoint: CORPUS[1]!,
        lastMessage: {
          streamSequence: 13,
          subject: `blog.1.${CORPUS[2]}`,
          storedAt: at,
          aggregateId: data.hostile,
          sequenceNumber: 1,
          eventType: CORPUS[3]!,
          position: CORPUS[5]!,
        },
        state: "checkpoint behind",
      },
      {
        partition: 2,
        owner: undefined,
        checkpoint: "",
        lastMessage: undefined,
        state: "no message",
      },
      {
        partition: 3,
        owner: CORPUS[6]!,
        checkpoint: CORPUS[9]!,
        lastMessage: {
          streamSequence: 14,
          subject: CORPUS[10]!,
          storedAt: at,
          aggregateId: CORPUS[0]!,
          sequenceNumber: undefined,
          eventType: undefined,
          position: undefined,
        },
        state: "unknown",
      },
    ];
    const outbox: OutboxView = {
      description: { relay: HOSTILE, stream: "BLOG", prefix: "blog" },
      partitions: () => Promise.resolve(rows),
    };
    const served = serveEventBrowser(app, {
      port: 0,
      basePath: "/events",
      outbox,
    });
    const dir = Deno.env.get("SEQUENT_SCREENSHOTS") ??
      await Deno.makeTempDir({ prefix: "sequent_outbox_" });
    await Deno.mkdir(dir, { recursive: true });
    try {
      await withBrowser(async (browser) => {
        const context = await browser.newContext();
        const page = await context.newPage();
        await page.addInitScript(SENTINEL_SETUP);
        const errors: string[] = [];
        page.on("console", (m) => {
          if (m.type() === "error" || m.type() === "warning") {
            errors.push(`${m.type()}: ${m.text()}`);
          }
        });
        page.on("pageerror", (e) => errors.push(`page error: ${e.message}`));

        // from the search page, through the navigation link
        await page.goto(served.url);
        await page.click("nav >> text=Outbox");
        await page.waitForURL(/\/events\/outbox$/);
        await check(page, errors, "outbox", dir);
        const main = await page.textContent("main") ?? "";
        for (const piece of [CORPUS[0]!, CORPUS[1]!, CORPUS[3]!, CORPUS[6]!]) {
          assert.ok(main.includes(piece), `shows ${piece} as text`);
        }
        assert.equal(await page.locator("tbody tr").count(), 4);

        // a partition's last event, to its page
        await page.click(`a[href$="/events/${data.post}/2"]`);
        await page.waitForURL(new RegExp(`/events/events/${data.post}/2$`));
        await check(page, errors, "outbox_event", dir);
        assert.ok(
          (await page.textContent("h1") ?? "").includes(`${data.post}/2`),
        );
        await context.close();
      });
    } finally {
      await served.shutdown();
      await app.close();
    }
  },
});
