/**
 * Opens an embedded database (in memory, or in the folder given as the
 * argument), stores a row and reads it back, and prints `ok`; for
 * `fresh_cluster_test.ts`, under the permissions the test gives it.
 */
import { connectDatabase } from "../../src/postgres/connect.ts";

const client = await connectDatabase(Deno.args[0] ?? "memory://");
try {
  await client.execute("CREATE TABLE t (a int); INSERT INTO t VALUES (42)");
  const [row] = await client.query<{ a: number }>("SELECT a FROM t");
  console.log(row?.a === 42 ? "ok" : `wrong: ${JSON.stringify(row)}`);
} finally {
  await client.close();
}
