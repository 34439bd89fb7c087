/**
 * A fresh event store for one benchmark, in a scratch schema of its own
 * (`bench_…`), dropped afterwards.
 */
import {
  connectDatabase,
  installEventStore,
  type SqlClient,
} from "@sequent/core/postgres";

/**
 * Installs an event store in a new scratch schema of the database at
 * `url` and runs `work` on it; then drops the schema and closes the
 * client, whatever `work` did.
 *
 * @param url The database (`memory://` for an embedded one).
 * @param work What to measure, given the client and the schema's name.
 * @returns What `work` returned.
 */
export async function onScratchStore<T>(
  url: string,
  work: (client: SqlClient, schema: string) => Promise<T>,
): Promise<T> {
  const schema = `bench_${crypto.randomUUID().slice(0, 8)}`;
  const client = await connectDatabase(url);
  try {
    await installEventStore(client, { schema });
    return await work(client, schema);
  } finally {
    await client.execute(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await client.close();
  }
}
