/**
 * Killing the outbox relay: a relay in another process is SIGKILLed at
 * random moments while writers append, so some kills land between a PubAck
 * and its checkpoint. The stream's duplicate window is 1 s and every
 * restart waits longer than that, so it is the relay's reconciliation with
 * the stream, not JetStream's dedup, that must prevent repeats. The stream
 * must then hold every event once, each aggregate's in sequence order.
 *
 * On the server when `DATABASE_URL` names one, else on PGlite in a folder
 * this process holds (the relay reaches it through this process). 5 kills
 * per run; 100 in the acceptance run (`SEQUENT_ACCEPTANCE=1`).
 */
import assert from "node:assert/strict";
import { partitionOf } from "@sequent/core";
import {
  connectDatabase,
  installEventStore,
  PostgresEventStore,
} from "@sequent/core/postgres";
import { OUTBOX_HEADERS, outboxSubject } from "@sequent/core/nats";
import { command, event, stream } from "../contract/event_store_contract.ts";
import { freshSchema, serverUrl } from "../postgres/_backends.ts";
import { random } from "../_seeded_random.ts";
import {
  createStream,
  deleteStream,
  freshStream,
  natsUrl,
  scan,
  until,
  withNats,
} from "./_nats.ts";
import { jetstreamManager } from "@nats-io/jetstream";

const acceptance = Deno.env.get("SEQUENT_ACCEPTANCE") === "1";
const kills = acceptance ? 100 : 5;
const seed = Number(Deno.env.get("SEQUENT_KILL_SEED") ?? Date.now() % 100_000);

const child = new URL("./_relay_child.ts", import.meta.url).pathname;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

Deno.test({
  name:
    `the relay SIGKILLed ${kills} times while writers append: the stream holds every event once, each aggregate's in order, with a 1 s duplicate window (seed ${seed})`,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const next = random(seed);
    const dir = serverUrl ? undefined : await Deno.makeTempDir({
      prefix: "sequent-relay-kill-",
    });
    const database = serverUrl ?? `${dir}/db`;
    const client = await connectDatabase(database);
    const schema = freshSchema();
    const { stream: name, prefix } = freshStream();
    try {
      await installEventStore(client, { schema });
      await createStream(name, prefix, 1_000);
      const store = new PostgresEventStore(client, {
        schema,
        closeClient: false,
      });
      const ids = Array.from({ length: 200 }, () => crypto.randomUUID());
      const version = new Map<string, number>();
      let written = 0;
      let writing = true;
      const writer = (async () => {
        while (writing) {
          const some = [
            ...new Set(
              Array.from(
                { length: 5 },
                () => ids[Math.floor(next() * ids.length)]!,
              ),
            ),
          ].sort();
          await store.transaction((tx) =>
            tx.commit(
              command(some[0]!),
              some.map((id) => {
                const n = (version.get(id) ?? 0) + 1;
                return stream(id, [event(id, n, { n }, "Kill_Published")]);
              }),
            )
          );
          for (const id of some) version.set(id, (version.get(id) ?? 0) + 1);
          written += some.length;
          await sleep(2);
        }
      })();
      const spawn = () =>
        new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", child, database, schema, name, prefix, natsUrl],
          stdout: "piped",
          stderr: "piped",
        }).spawn();
      const started = async (p: Deno.ChildProcess) => {
        const reader = p.stdout.pipeThrough(new TextDecoderStream())
          .getReader();
        const { value } = await reader.read();
        reader.releaseLock();
        assert.match(value ?? "", /started/);
      };
      for (let k = 0; k < kills; k++) {
        const p = spawn();
        await started(p);
        await sleep(150 + Math.floor(next() * 900));
        p.kill("SIGKILL");
        await p.status;
        await p.stdout.cancel().catch(() => {});
        await p.stderr.cancel().catch(() => {});
        // past the duplicate window: dedup cannot hide a repeat
        await sleep(1_100);
      }
      writing = false;
      await writer;
      const last = spawn();
      await started(last);
      try {
        await until(
          () =>
            withNats(async (nc) => {
              const jsm = await jetstreamManager(nc);
              return (await jsm.streams.info(name)).state.messages >= written;
            }),
          60_000,
          `${written} messages`,
        );
        await sleep(300);
      } finally {
        last.kill("SIGKILL");
        await last.status;
        await last.stdout.cancel().catch(() => {});
        await last.stderr.cancel().catch(() => {});
      }
      const messages = await scan(name);
      const seen = new Set<string>();
      const byAggregate = new Map<string, number[]>();
      for (const m of messages) {
        const key = m.headers[OUTBOX_HEADERS.messageId]!;
        assert.ok(!seen.has(key), `${key} published twice`);
        seen.add(key);
        const id = m.headers[OUTBOX_HEADERS.aggregateId]!;
        assert.equal(
          m.subject,
          outboxSubject(prefix, partitionOf(id), "Contract_Thing", id),
        );
        byAggregate.set(id, [
          ...(byAggregate.get(id) ?? []),
          Number(m.headers[OUTBOX_HEADERS.aggregateSequence]),
        ]);
      }
      assert.equal(messages.length, written, "every event once");
      for (const [id, n] of version) {
        assert.deepEqual(
          byAggregate.get(id),
          Array.from({ length: n }, (_, i) => i + 1),
          `the events of ${id} in order`,
        );
      }
    } finally {
      await deleteStream(name);
      await client.execute(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await client.close();
      if (dir) await Deno.remove(dir, { recursive: true });
    }
  },
});
