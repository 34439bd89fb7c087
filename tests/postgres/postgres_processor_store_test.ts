/**
 * The PostgreSQL processor store's own rules, beyond the processor tests
 * every store runs: a commit of the checkpoint alone does not wait for
 * the WAL flush, and that setting ends with its own transaction. On the
 * server, the flushes are counted (`pg_stat_wal.wal_sync`).
 */
import assert from "node:assert/strict";
import type { RecordStore } from "@sequent/core";
import {
  connectDatabase,
  installEventStore,
  PostgresEventStore,
  PostgresProcessorStore,
  type SqlClient,
} from "@sequent/core/postgres";
import { freshSchema, keptBackend, serverUrl } from "./_backends.ts";

const databases: [name: string, url: string][] = [["pglite", "memory://"]];
if (serverUrl) databases.push(["server", serverUrl]);

for (const [name, url] of databases.filter(([n]) => keptBackend(n))) {
  Deno.test(`${name}: a checkpoint committed alone moves, and the connection's next commit waits for its flush again`, async () => {
    // one connection: the statement after the commit runs where it ran
    const client = await connectDatabase(url, { max: 1 });
    const schema = freshSchema();
    try {
      await installEventStore(client, { schema });
      const events = new PostgresEventStore(client, {
        schema,
        closeClient: false,
      });
      const processors = new PostgresProcessorStore(client, events, {
        schema,
        viewSchema: `${schema}_view`,
      });
      const [before] = await client.query<{ setting: string }>(
        "SELECT current_setting('synchronous_commit') AS setting",
      );
      const lease = await processors.claim("Checkpointed", "runner-a", 5_000);
      assert.ok(lease, "claimed");
      assert.equal(
        await processors.commit("Checkpointed", lease, "7:3"),
        true,
      );
      const [after] = await client.query<{ setting: string }>(
        "SELECT current_setting('synchronous_commit') AS setting",
      );
      assert.equal(after?.setting, before?.setting);
      await processors.release("Checkpointed", lease);
      const again = await processors.claim("Checkpointed", "runner-b", 5_000);
      assert.equal(again?.checkpoint, "7:3");
      // a lost claim still moves nothing
      assert.equal(
        await processors.commit("Checkpointed", lease, "9:0"),
        false,
      );
    } finally {
      await client.execute(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await client.close();
    }
  });
}

/**
 * The server's WAL flushes so far, this connection's included: counted for
 * the whole cluster, so the server's tests run one file at a time (as CI
 * runs them) for the counts to be this test's.
 */
async function walSyncs(client: SqlClient): Promise<number> {
  // a backend reports its counts when it goes idle, at most once a second
  // unless asked to sooner
  await client.query("SELECT pg_stat_force_next_flush()");
  const [row] = await client.query<{ n: string }>(
    "SELECT wal_sync::text AS n FROM pg_stat_wal",
  );
  return Number(row?.n);
}

if (serverUrl && keptBackend("server")) {
  Deno.test("server: a projector's batch that asked nothing of its records commits its checkpoint without waiting for the flush, and one that wrote a row waits", async () => {
    const client = await connectDatabase(serverUrl!, { max: 1 });
    const schema = freshSchema();
    const viewSchema = `${schema}_view`;
    try {
      await installEventStore(client, { schema });
      await client.execute(
        `CREATE SCHEMA ${viewSchema}; CREATE TABLE ${viewSchema}.written (n integer)`,
      );
      const events = new PostgresEventStore(client, {
        schema,
        closeClient: false,
      });
      const processors = new PostgresProcessorStore(client, events, {
        schema,
        viewSchema,
      });
      const lease = await processors.claim("Projecting", "runner-a", 60_000);
      assert.ok(lease, "claimed");
      const batches = 40;
      let at = 0;
      const commits = async (work: (records: RecordStore) => Promise<void>) => {
        const before = await walSyncs(client);
        for (let i = 0; i < batches; i++) {
          at++;
          assert.equal(
            await processors.commit("Projecting", lease, `${at}:0`, work),
            true,
          );
        }
        return await walSyncs(client) - before;
      };
      // handlers that met no event of theirs: nothing asked of the records
      const idle = await commits(() => Promise.resolve());
      const writing = await commits(async (records) => {
        await records.executeSql(
          `INSERT INTO ${viewSchema}.written VALUES ($1)`,
          [at],
        );
      });
      // each writing batch waited for a flush of its own; the others left
      // theirs to the WAL writer (a few a second at most). A server run
      // with fsync off (some keep one so for tests) flushes nothing and
      // counts nothing: there, only the commits themselves are checked.
      const [fsync] = await client.query<{ on: boolean }>(
        "SELECT current_setting('fsync')::boolean AS on",
      );
      if (fsync?.on) {
        assert.ok(
          writing >= batches,
          `${writing} flushes for ${batches} batches that wrote`,
        );
        assert.ok(
          idle < batches / 4,
          `${idle} flushes for ${batches} batches that wrote nothing`,
        );
      }
      const [row] = await client.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM ${viewSchema}.written`,
      );
      assert.equal(row?.n, batches);
      await processors.release("Projecting", lease);
      const again = await processors.claim("Projecting", "runner-b", 5_000);
      assert.equal(again?.checkpoint, `${at}:0`);
    } finally {
      await client.execute(
        `DROP SCHEMA IF EXISTS ${schema} CASCADE; DROP SCHEMA IF EXISTS ${viewSchema} CASCADE`,
      );
      await client.close();
    }
  });
}
