/**
 * Opens embedded databases one after the other, each named by an argument
 * (in memory for `memory://`, else the folder given; `memory://` when there
 * is none), and prints `ok` when each held what it should: a new one no
 * table, then a row it stores and reads back; one named `kept:<folder>`,
 * the row an earlier run stored there. For `fresh_cluster_test.ts`, under
 * the permissions and the cache folder the test gives it.
 */
import { connectDatabase } from "../../src/postgres/connect.ts";

async function check(target: string): Promise<string | undefined> {
  const kept = target.startsWith("kept:");
  const client = await connectDatabase(kept ? target.slice(5) : target);
  try {
    if (!kept) {
      const [tables] = await client.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'",
      );
      if (tables?.n !== 0) return `${target}: not new, ${tables?.n} tables`;
      await client.execute(
        "CREATE TABLE t (a int); INSERT INTO t VALUES (42)",
      );
    }
    const rows = await client.query<{ a: number }>("SELECT a FROM t");
    return rows.length === 1 && rows[0]?.a === 42
      ? undefined
      : `${target}: wrong rows ${JSON.stringify(rows)}`;
  } finally {
    await client.close();
  }
}

const wrong: string[] = [];
for (const target of Deno.args.length ? Deno.args : ["memory://"]) {
  const problem = await check(target);
  if (problem) wrong.push(problem);
}
console.log(wrong.length ? wrong.join("\n") : "ok");
