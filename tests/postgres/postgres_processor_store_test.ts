/**
 * The PostgreSQL processor store's own rules, beyond the processor tests
 * every store runs: a commit of the checkpoint alone does not wait for
 * the WAL flush, and that setting ends with its own transaction.
 */
import assert from "node:assert/strict";
import {
  connectDatabase,
  installEventStore,
  PostgresEventStore,
  PostgresProcessorStore,
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
