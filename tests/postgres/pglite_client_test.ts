/**
 * The PGlite adapter's own choices, beyond the SqlClient contract that
 * `sql_client_test.ts` runs on every client.
 */
import assert from "node:assert/strict";
import { PgliteClient } from "../../src/postgres/pglite_client.ts";

async function sharedBuffers(client: PgliteClient): Promise<string> {
  const [row] = await client.query<{ shared_buffers: string }>(
    "SHOW shared_buffers",
  );
  return row!.shared_buffers;
}

Deno.test("a database in memory, whose files are in memory already, has a 16 MB buffer pool; one in a folder keeps PostgreSQL's default", async () => {
  const inMemory = await PgliteClient.open(undefined);
  try {
    assert.equal(await sharedBuffers(inMemory), "16MB");
  } finally {
    await inMemory.close();
  }
  const dir = await Deno.makeTempDir({ prefix: "sequent-pglite-" });
  try {
    const inFolder = await PgliteClient.open(`${dir}/db`);
    try {
      assert.equal(await sharedBuffers(inFolder), "128MB");
    } finally {
      await inFolder.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
