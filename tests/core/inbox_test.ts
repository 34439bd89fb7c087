/**
 * The inbox's rules, the same cases on every inbox (memory, PGlite, the
 * server when `DATABASE_URL` names one): each event's writes once, nothing
 * of a failed handler, a message never slipping past its aggregate's set
 * aside, concurrent handlers' writes kept apart, messages handled again
 * leaving the list with their transaction, a message set aside again keeping its error and request,
 * and a skip asked for done once, to its message.
 */
import assert from "node:assert/strict";
import {
  column,
  type EventStore,
  type Inbox,
  type InboxMessage,
  type InMemoryEventStore,
  InMemoryInbox,
  type RecordStore,
  table,
} from "@sequent/core";
import { installInbox, PostgresInbox } from "@sequent/core/postgres";
import {
  type StoreBackend,
  storeBackends,
} from "../postgres/_store_backends.ts";
import { countingClient } from "../postgres/_counting_client.ts";

const inboxNotes = table("inbox_notes", {
  id: column.text().primaryKey(),
  aggregateId: column.text(),
});

const { list, disposeAtEnd } = storeBackends();

async function inboxFor(
  b: StoreBackend,
): Promise<{ inbox: Inbox; store: EventStore }> {
  const store = await b.emptyStore([inboxNotes]);
  if (!b.sql) {
    return { inbox: new InMemoryInbox(store as InMemoryEventStore), store };
  }
  const client = await b.client();
  await installInbox(client, { schema: b.schema });
  return {
    inbox: new PostgresInbox(client, {
      schema: b.schema,
      viewSchema: b.viewSchema,
    }),
    store,
  };
}

function msg(aggregateId: string, n: number): InboxMessage {
  return {
    id: `${aggregateId}/${n}`,
    aggregateId,
    sequenceNumber: n,
    subject: `test.0.Thing.${aggregateId}`,
    headers: { "Sequent-Event-Type": "Thing.Happened", "X-Note": `n=${n}` },
    body: JSON.stringify({ n }),
  };
}

/** Work that writes a row for the message. */
function note(m: InboxMessage) {
  return async (records: RecordStore) => {
    await records.insert(inboxNotes, [{
      id: m.id,
      aggregateId: m.aggregateId,
    }]);
  };
}

async function notes(store: EventStore, aggregateId: string) {
  return (await store.records.find(inboxNotes, { aggregateId }))
    .map((r) => r.id).sort();
}

for (const b of list) {
  const test = (name: string, fn: () => Promise<void>) =>
    Deno.test({
      name: `${b.name}: ${name}`,
      sanitizeOps: false,
      sanitizeResources: false,
      fn,
    });
  const consumer = () => `c${crypto.randomUUID().slice(0, 8)}`;

  test("an event's writes take effect once; a failing handler stores nothing and leaves the event to come again", async () => {
    const { inbox, store } = await inboxFor(b);
    const c = consumer();
    const a = crypto.randomUUID();
    await assert.rejects(
      inbox.handleOnce(c, msg(a, 1), async (records) => {
        await note(msg(a, 1))(records);
        throw new Error("boom");
      }),
      /boom/,
    );
    assert.deepEqual(await notes(store, a), []);
    assert.equal(
      await inbox.handleOnce(c, msg(a, 1), note(msg(a, 1))),
      "handled",
    );
    let ran = false;
    assert.equal(
      await inbox.handleOnce(
        c,
        msg(a, 1),
        () => Promise.resolve(void (ran = true)),
      ),
      "duplicate",
    );
    assert.equal(ran, false);
    assert.deepEqual(await notes(store, a), [`${a}/1`]);
    // another consumer keeps its own list
    assert.equal(
      await inbox.handleOnce(consumer(), msg(a, 1), () => Promise.resolve()),
      "handled",
    );
  });

  test("two handlers writing one row at once: the one failing after the other wrote undoes only its own write, and the other's message stays handled with its row", async () => {
    const { inbox, store } = await inboxFor(b);
    const c = consumer();
    const [x, y] = [crypto.randomUUID(), crypto.randomUUID()];
    const row = `shared-${x}`;
    const wrote = Promise.withResolvers<void>();
    const gate = Promise.withResolvers<void>();
    // x's handler (one partition) writes the row, then waits, then fails
    const failing = inbox.handleOnce(c, msg(x, 1), async (records) => {
      await records.upsert(inboxNotes, { id: row }, { aggregateId: x });
      wrote.resolve();
      await gate.promise;
      throw new Error("x fails");
    });
    failing.catch(() => {});
    await wrote.promise;
    // y's (another partition) writes the same row meanwhile: on a database
    // it waits for the row's lock
    const other = inbox.handleOnce(c, msg(y, 1), async (records) => {
      await records.upsert(inboxNotes, { id: row }, { aggregateId: y });
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      other.catch(() => {}),
      new Promise((resolve) => timer = setTimeout(resolve, 100)),
    ]);
    clearTimeout(timer);
    gate.resolve();
    await assert.rejects(failing, /x fails/);
    assert.equal(await other, "handled");
    assert.deepEqual(await notes(store, y), [row]);
    assert.deepEqual(await notes(store, x), []);
    let ran = false;
    assert.equal(
      await inbox.handleOnce(
        c,
        msg(y, 1),
        () => Promise.resolve(void (ran = true)),
      ),
      "duplicate",
    );
    assert.equal(ran, false);
  });

  test("while an aggregate has a message set aside, its next ones are set aside behind it; other aggregates go on", async () => {
    const { inbox, store } = await inboxFor(b);
    const c = consumer();
    const [x, y] = [crypto.randomUUID(), crypto.randomUUID()];
    assert.equal(
      await inbox.handleOnce(c, msg(x, 1), note(msg(x, 1))),
      "handled",
    );
    await inbox.setAside(c, msg(x, 2), "boom at 2");
    assert.equal(
      await inbox.handleOnce(c, msg(x, 3), note(msg(x, 3))),
      "set aside",
    );
    assert.equal(
      await inbox.handleOnce(c, msg(y, 1), note(msg(y, 1))),
      "handled",
    );
    assert.equal(
      await inbox.handleOnce(c, msg(x, 4), note(msg(x, 4))),
      "set aside",
    );
    assert.deepEqual(await notes(store, x), [`${x}/1`]);
    const aside = await inbox.setAsideMessages(c, x.toUpperCase());
    assert.deepEqual(
      aside.map((m) => [m.sequenceNumber, m.error]),
      [[2, "boom at 2"], [3, undefined], [4, undefined]],
    );
    assert.deepEqual(aside[0]?.headers, msg(x, 2).headers);
    assert.equal(aside[0]?.body, msg(x, 2).body);
    assert.equal(aside[0]?.subject, msg(x, 2).subject);
    assert.ok(aside[0]?.setAsideAt instanceof Date);
    assert.equal((await inbox.setAsideMessages(c)).length, 3);
  });

  test("messages handled again leave the list with their transaction, in order; one failing again stays with its new error", async () => {
    const { inbox, store } = await inboxFor(b);
    const c = consumer();
    const x = crypto.randomUUID();
    await inbox.setAside(c, msg(x, 1), "boom");
    await inbox.handleOnce(c, msg(x, 2), note(msg(x, 2)));
    await assert.rejects(
      inbox.handleOnce(c, msg(x, 1), () => Promise.reject(new Error("again")), {
        retrying: true,
      }),
    );
    await inbox.setAside(c, msg(x, 1), "again");
    let aside = await inbox.setAsideMessages(c, x);
    assert.deepEqual(aside.map((m) => [m.sequenceNumber, m.error]), [
      [1, "again"],
      [2, undefined],
    ]);
    for (const m of aside) {
      assert.equal(
        await inbox.handleOnce(c, m, note(m), { retrying: true }),
        "handled",
      );
    }
    aside = await inbox.setAsideMessages(c, x);
    assert.deepEqual(aside, []);
    assert.deepEqual(await notes(store, x), [`${x}/1`, `${x}/2`]);
    // free again: the next one is handled at once
    assert.equal(
      await inbox.handleOnce(c, msg(x, 3), note(msg(x, 3))),
      "handled",
    );
    // one set aside but handled before is taken back as a duplicate
    await inbox.setAside(c, msg(x, 3), "stale");
    assert.equal(
      await inbox.handleOnce(c, msg(x, 3), note(msg(x, 3)), { retrying: true }),
      "duplicate",
    );
    assert.deepEqual(await inbox.setAsideMessages(c, x), []);
  });

  test("an operator's request rests on the failed message until it is set aside again with a new error", async () => {
    const { inbox } = await inboxFor(b);
    const c = consumer();
    const x = crypto.randomUUID();
    assert.equal(await inbox.request(c, x, "retry"), false);
    await inbox.setAside(c, msg(x, 1), "boom");
    await inbox.setAside(c, msg(x, 2), undefined);
    assert.equal(await inbox.request(c, x.toUpperCase(), "skip"), true);
    let aside = await inbox.setAsideMessages(c, x);
    assert.deepEqual(aside.map((m) => m.request), ["skip", undefined]);
    // failed again: the request was done
    await inbox.setAside(c, msg(x, 1), "boom again");
    aside = await inbox.setAsideMessages(c, x);
    assert.deepEqual(aside.map((m) => [m.error, m.request]), [
      ["boom again", undefined],
      [undefined, undefined],
    ]);
  });

  test("setting a message aside again never erases what is recorded for it: delivered again after its ack was lost, the failed one keeps its error and request", async () => {
    const { inbox } = await inboxFor(b);
    const c = consumer();
    const x = crypto.randomUUID();
    await inbox.setAside(c, msg(x, 1), "boom");
    await inbox.setAside(c, msg(x, 2), undefined);
    assert.equal(await inbox.request(c, x, "retry"), true);
    // the parked message comes again: it is set aside behind itself
    let ran = false;
    assert.equal(
      await inbox.handleOnce(
        c,
        msg(x, 1),
        () => Promise.resolve(void (ran = true)),
      ),
      "set aside",
    );
    assert.equal(ran, false);
    await inbox.setAside(c, msg(x, 1), undefined);
    const aside = await inbox.setAsideMessages(c, x);
    assert.deepEqual(aside.map((m) => [m.sequenceNumber, m.error, m.request]), [
      [1, "boom", "retry"],
      [2, undefined, undefined],
    ]);
    // so an operator still finds it
    assert.equal(await inbox.request(c, x, "skip"), true);
    // and one held behind it that fails later gets its error
    await inbox.setAside(c, msg(x, 2), "boom at 2");
    assert.deepEqual(
      (await inbox.setAsideMessages(c, x)).map((m) => m.error),
      ["boom", "boom at 2"],
    );
  });

  test("a skip asked for is done once, to the message it was asked for: a second taker after the first skips nothing else", async () => {
    const { inbox } = await inboxFor(b);
    const c = consumer();
    const x = crypto.randomUUID();
    await inbox.setAside(c, msg(x, 1), "boom");
    await inbox.setAside(c, msg(x, 2), undefined);
    await inbox.setAside(c, msg(x, 3), undefined);
    const asked = { asked: "skip" } as const;
    // not asked yet: nothing to skip
    assert.equal(await inbox.takeBack(c, [msg(x, 1).id], asked), 0);
    assert.equal(await inbox.request(c, x, "skip"), true);
    // two processes saw the request and act on it at once
    const taken = await Promise.all([
      inbox.takeBack(c, [msg(x, 1).id], asked),
      inbox.takeBack(c, [msg(x, 1).id], asked),
    ]);
    assert.deepEqual(taken.sort(), [0, 1]);
    // a late one, looking for what comes first now, finds no request on it
    assert.equal(await inbox.takeBack(c, [msg(x, 2).id], asked), 0);
    assert.deepEqual(
      (await inbox.setAsideMessages(c, x)).map((m) => m.sequenceNumber),
      [2, 3],
    );
    // a retry asked for is no skip
    await inbox.setAside(c, msg(x, 2), "boom at 2");
    assert.equal(await inbox.request(c, x, "retry"), true);
    assert.equal(await inbox.takeBack(c, [msg(x, 2).id], asked), 0);
    assert.equal((await inbox.setAsideMessages(c, x)).length, 2);
  });

  if (b.sql) {
    test("on PostgreSQL, handling a message takes one round trip before the commit: the aggregate's lock goes out with the check", async () => {
      const { store } = await inboxFor(b);
      const counting = countingClient(await b.client());
      const inbox = new PostgresInbox(counting, {
        schema: b.schema,
        viewSchema: b.viewSchema,
      });
      const x = crypto.randomUUID();
      assert.equal(
        await inbox.handleOnce(consumer(), msg(x, 1), note(msg(x, 1))),
        "handled",
      );
      // the lock, queued; the check; the handler's row, queued for the COMMIT
      assert.deepEqual(counting.kinds(), [
        "transaction",
        "tx.enqueue",
        "tx.query",
        "tx.enqueue",
      ]);
      assert.deepEqual(await notes(store, x), [`${x}/1`]);
    });
  }

  test("messages taken back are forgotten", async () => {
    const { inbox } = await inboxFor(b);
    const c = consumer();
    const x = crypto.randomUUID();
    await inbox.setAside(c, msg(x, 1), "boom");
    await inbox.setAside(c, msg(x, 2), undefined);
    assert.equal(await inbox.takeBack(c, [msg(x, 1).id, msg(x, 9).id]), 1);
    assert.deepEqual(
      (await inbox.setAsideMessages(c)).map((m) => m.id),
      [msg(x, 2).id],
    );
    assert.equal(await inbox.takeBack(c, []), 0);
  });
}

disposeAtEnd();
