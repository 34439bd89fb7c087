/**
 * The database tests share when `DATABASE_URL` is set: opened once per test
 * process, at import time (so Deno's resource sanitizers see it as already
 * there), in schemas of its own, and emptied before each test's store.
 *
 * @module
 */
import type { EventStore } from "../core/event_store.ts";
import type { RecordTable } from "../core/record_table.ts";
import {
  clearEventStore,
  connectDatabase,
  installEventStore,
  PostgresEventStore,
  type SqlClient,
} from "../postgres/mod.ts";
import {
  createIndexesSql,
  createTableSql,
  qualifiedTableName,
} from "../postgres/table_sql.ts";

interface Shared {
  readonly client: SqlClient;
  readonly schema: string;
  readonly viewSchema: string;
  /** The DDL each table was last created with. */
  readonly tables: Map<string, string>;
}

let shared: Promise<Shared> | undefined;

/** Opens the shared test database (once). */
export function openTestDatabase(url: string): Promise<Shared> {
  shared ??= (async () => {
    const client = await connectDatabase(url, {
      max: 1,
      idleTimeoutMs: 0,
    });
    const id = `${Deno.pid}_${crypto.randomUUID().slice(0, 8)}`;
    const schema = `test_events_${id}`;
    const viewSchema = `test_views_${id}`;
    await installEventStore(client, { schema });
    await client.execute(`CREATE SCHEMA "${viewSchema}"`);
    globalThis.addEventListener("unload", () => {
      // best effort: a server keeps schemas of crashed runs otherwise
      client.execute(
        `DROP SCHEMA IF EXISTS "${schema}" CASCADE; DROP SCHEMA IF EXISTS "${viewSchema}" CASCADE`,
      ).catch(() => {});
    });
    return { client, schema, viewSchema, tables: new Map() };
  })();
  return shared;
}

/**
 * An emptied event store on the shared test database, with the given
 * record tables created empty.
 */
export async function databaseTestStore(
  url: string,
  tables: readonly RecordTable[],
): Promise<EventStore> {
  const db = await openTestDatabase(url);
  await clearEventStore(db.client, { schema: db.schema });
  const statements: string[] = [];
  for (const [name] of db.tables) {
    statements.push(`TRUNCATE "${db.viewSchema}"."${name}"`);
  }
  for (const table of tables) {
    const ddl = createTableSql(table, db.viewSchema);
    if (db.tables.get(table.name) === ddl) continue;
    // a test file may declare a table of the same name differently
    statements.push(
      `DROP TABLE IF EXISTS ${qualifiedTableName(table, db.viewSchema)}`,
      ddl,
    );
    statements.push(...createIndexesSql(table, db.viewSchema));
    db.tables.set(table.name, ddl);
  }
  if (statements.length > 0) await db.client.execute(statements.join(";\n"));
  return new PostgresEventStore(db.client, {
    schema: db.schema,
    viewSchema: db.viewSchema,
    closeClient: false,
  });
}
