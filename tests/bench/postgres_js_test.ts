/**
 * The raw baselines' postgres.js workaround (`bench/postgres_js.ts`): the
 * version is pinned to the one it was verified against, the stall it works
 * around still happens without it, and it still ends the stall. The last
 * two need a server (`DATABASE_URL=postgres://…`, the CI's server pass).
 */
import assert from "node:assert/strict";
import type { Readable } from "node:stream";
import postgres from "postgres";
import {
  POSTGRES_JS_VERIFIED,
  resumeAfterCopyOut,
} from "../../bench/postgres_js.ts";
import { serverUrl } from "../postgres/_backends.ts";
import { burstProxy } from "./_burst_proxy.ts";

const ROOT = new URL("../../", import.meta.url);

Deno.test("deno.json pins postgres.js at exactly the version the COPY workaround was verified against", async () => {
  const config = JSON.parse(
    await Deno.readTextFile(new URL("deno.json", ROOT)),
  );
  assert.equal(
    config.imports.postgres,
    `npm:postgres@${POSTGRES_JS_VERIFIED}`,
  );
  const lock = JSON.parse(await Deno.readTextFile(new URL("deno.lock", ROOT)));
  assert.equal(
    lock.specifiers[`npm:postgres@${POSTGRES_JS_VERIFIED}`],
    POSTGRES_JS_VERIFIED,
  );
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Copies out 100 rows of 1,000 characters (more than the stream's 64 KiB
 * buffer, less than two socket reads), reading the stream only once every
 * row has arrived, then runs one more statement in the same transaction.
 * Returns whether that statement answered within five seconds.
 */
async function statementAfterLateCopyOut(
  url: string,
  resume: boolean,
): Promise<boolean> {
  // the whole answer in one write: two socket reads of it, whatever the load
  const target = new URL(url);
  const proxy = burstProxy(target.hostname, Number(target.port || 5432));
  try {
    return await statementThrough(url, proxy.port, resume);
  } finally {
    await proxy.close();
  }
}

async function statementThrough(
  url: string,
  port: number,
  resume: boolean,
): Promise<boolean> {
  const sql = postgres(url, {
    host: "127.0.0.1",
    port,
    max: 1,
    onnotice: () => {},
  });
  let answered = false;
  const work = sql.begin(async (tx) => {
    const readable: Readable = await tx.unsafe(
      "COPY (SELECT repeat('x', 1000) FROM generate_series(1, 100)) TO STDOUT",
    ).readable();
    await sleep(300);
    let bytes = 0;
    await new Promise<void>((resolve, reject) => {
      readable.on("data", (chunk: Uint8Array) => bytes += chunk.length);
      readable.once("end", resolve);
      readable.once("error", reject);
    });
    assert.equal(bytes, 100 * 1001);
    if (resume) resumeAfterCopyOut(readable);
    await tx.unsafe("SELECT 1");
    answered = true;
  });
  // a stalled connection is destroyed below: its transaction then fails
  const settled = work.then(() => true, () => false);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const finished = await Promise.race([
    settled,
    new Promise<false>((r) => timer = setTimeout(() => r(false), 5000)),
  ]);
  clearTimeout(timer);
  if (!finished) await sql.end({ timeout: 0 });
  else await sql.end();
  await settled;
  return answered;
}

Deno.test({
  name:
    "postgres.js still stalls after a copy whose rows were read late: the workaround is still needed",
  ignore: serverUrl === undefined,
  fn: async () => {
    assert.equal(
      await statementAfterLateCopyOut(serverUrl!, false),
      false,
      `postgres.js ${POSTGRES_JS_VERIFIED} no longer stalls after COPY TO: remove resumeAfterCopyOut from the bench`,
    );
  },
});

Deno.test({
  name: "resumeAfterCopyOut ends the stall: the next statement answers",
  ignore: serverUrl === undefined,
  fn: async () => {
    assert.equal(await statementAfterLateCopyOut(serverUrl!, true), true);
  },
});
