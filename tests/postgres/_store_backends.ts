/**
 * Event stores with read-model tables for tests that run the same cases on
 * every store: the in-memory store, PGlite always, and the server when
 * `DATABASE_URL` names one (see `_backends.ts`). Each SQL backend keeps its
 * event store and view schema in schemas of this test file's own, dropped
 * at the end.
 */
import {
  type EventStore,
  InMemoryEventStore,
  InMemoryProcessorStore,
  type RecordTable,
} from "@sequent/core";
import type { ProcessorStore } from "@sequent/core/internal";
import {
  clearEventStore,
  PostgresEventStore,
  PostgresProcessorStore,
  type SqlClient,
} from "@sequent/core/postgres";
import {
  type Backend,
  backends,
  disposeAtEnd,
  keptBackend,
} from "./_backends.ts";
import {
  createIndexesSql,
  createTableSql,
  qualifiedTableName,
} from "@sequent/core/postgres";

/** One kind of event store to run test cases on. */
export interface StoreBackend {
  /** `memory`, `pglite` or `server`. */
  readonly name: string;
  /** Whether the store is on PostgreSQL. */
  readonly sql: boolean;
  /** The event store's schema (SQL backends). */
  readonly schema: string;
  /** The view schema (SQL backends). */
  readonly viewSchema: string;
  /** An empty store, with these record tables created empty. */
  emptyStore(tables: readonly RecordTable[]): Promise<EventStore>;
  /** How many command records the store holds. */
  commandCount(store: EventStore): Promise<number>;
  /**
   * Every row of every table of the event-store and view schemas, as JSON,
   * ordered (SQL backends; `undefined` in memory).
   */
  dump(): Promise<string | undefined>;
  /** The shared client (SQL backends). */
  client(): Promise<SqlClient>;
}

function memoryBackend(): StoreBackend {
  return {
    name: "memory",
    sql: false,
    schema: "",
    viewSchema: "",
    emptyStore: () => Promise.resolve(new InMemoryEventStore()),
    commandCount: (store) =>
      Promise.resolve((store as InMemoryEventStore).state.commands.size),
    dump: () => Promise.resolve(undefined),
    client: () => Promise.reject(new Error("no SQL in memory")),
  };
}

function sqlBackend(b: Backend): StoreBackend {
  const viewSchema = `${b.schema}_view`;
  /** The DDL of the tables the view schema holds now. */
  let created: string | undefined;
  return {
    name: b.name,
    sql: true,
    schema: b.schema,
    viewSchema,
    client: () => b.client(),
    async emptyStore(tables) {
      const client = await b.client();
      await clearEventStore(client, { schema: b.schema });
      const ddl = tables.flatMap((t) => [
        createTableSql(t, viewSchema),
        ...createIndexesSql(t, viewSchema),
      ]).join(";\n");
      if (ddl === created) {
        // the same tables as last time: emptying them is quicker
        if (tables.length > 0) {
          await client.execute(
            `TRUNCATE ${tables.map((t) => qualifiedTableName(t, viewSchema))}`,
          );
        }
      } else {
        await client.execute(
          [
            `DROP SCHEMA IF EXISTS ${viewSchema} CASCADE`,
            `CREATE SCHEMA ${viewSchema}`,
            ddl,
          ].join(";\n"),
        );
        created = ddl;
      }
      return new PostgresEventStore(client, {
        schema: b.schema,
        viewSchema,
        closeClient: false,
      });
    },
    async commandCount() {
      const client = await b.client();
      const [row] = await client.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM ${b.schema}.commands`,
      );
      return row?.n ?? 0;
    },
    async dump() {
      const client = await b.client();
      const tables = await client.query<{ schema: string; name: string }>(
        `SELECT table_schema AS schema, table_name AS name
           FROM information_schema.tables
          WHERE table_schema IN ($1, $2) AND table_type = 'BASE TABLE'
          ORDER BY 1, 2`,
        [b.schema, viewSchema],
      );
      const parts: string[] = [];
      for (const { schema, name } of tables) {
        const [row] = await client.query<{ rows: string }>(
          `SELECT coalesce(json_agg(t ORDER BY t::text), '[]')::text AS rows
             FROM "${schema}"."${name}" t`,
        );
        parts.push(`${schema}.${name}: ${row?.rows}`);
      }
      return parts.join("\n");
    },
  };
}

/** The backends of one test file, and how to close them. */
export interface StoreBackends {
  /** The memory store, PGlite, and the server when configured. */
  readonly list: readonly StoreBackend[];
  /** Registers the file's last test: closing the SQL backends. */
  disposeAtEnd(): void;
}

/** The processor store over a store `b.emptyStore()` gave. */
export async function processorStoreFor(
  b: StoreBackend,
  store: EventStore,
): Promise<ProcessorStore> {
  return b.sql
    ? new PostgresProcessorStore(
      await b.client(),
      store as PostgresEventStore,
      { schema: b.schema, viewSchema: b.viewSchema },
    )
    : new InMemoryProcessorStore(store as InMemoryEventStore);
}

/** Opens (lazily) the backends of one test file. */
export function storeBackends(): StoreBackends {
  const sql = backends();
  return {
    list: [
      ...(keptBackend("memory") ? [memoryBackend()] : []),
      ...sql.map(sqlBackend),
    ],
    disposeAtEnd: () => disposeAtEnd(sql),
  };
}
