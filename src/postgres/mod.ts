/**
 * The PostgreSQL event store, on a PostgreSQL server or on the embedded
 * PostgreSQL (PGlite, PostgreSQL compiled to WebAssembly) that needs no
 * set-up at all.
 *
 * - {@linkcode connectDatabase} opens a database from a URL:
 *   `postgres://…` for a server, `memory://` or a folder for the embedded
 *   one, and returns a {@linkcode SqlClient}, the framework's own small
 *   database port.
 * - {@linkcode installEventStore} creates or upgrades the event store's
 *   tables and functions (versioned, idempotent).
 * - {@linkcode PostgresEventStore} implements the `EventStore` port: one
 *   round trip per commit, loads in one query, snapshots, deletion with an
 *   archive, gap-free ordered reading for replays.
 *
 * @example
 * ```ts
 * import { connectDatabase, installEventStore, PostgresEventStore } from "@sequent/core/postgres";
 *
 * const client = await connectDatabase("memory://"); // or Deno.env.get("DATABASE_URL")
 * await installEventStore(client);
 * const store = new PostgresEventStore(client);
 * console.assert(!(await store.streamExists(crypto.randomUUID())));
 * await store.close();
 * ```
 *
 * @module
 */
export type {
  SqlClient,
  SqlCopyRows,
  SqlExecutor,
  SqlOptions,
  SqlRow,
  SqlStatement,
  SqlTransaction,
  SqlValue,
} from "./sql_client.ts";
export { SqlError, type SqlErrorFields } from "./sql_error.ts";
export { connectDatabase, DEFAULT_DATA_DIR } from "./connect.ts";
export type { ConnectOptions, ServerOptions } from "./connect_options.ts";
export {
  clearEventStore,
  DEFAULT_EVENT_STORE_SCHEMA,
  EVENT_STORE_SCHEMA_VERSION,
  type EventStoreSchemaOptions,
  installEventStore,
  type InstallResult,
} from "./schema.ts";
export {
  PostgresEventStore,
  type PostgresEventStoreOptions,
} from "./postgres_event_store.ts";
export {
  PostgresProcessorStore,
  type PostgresProcessorStoreOptions,
} from "./postgres_processor_store.ts";
export {
  installInbox,
  PostgresInbox,
  type PostgresInboxOptions,
} from "./postgres_inbox.ts";
export {
  ConcurrentMigrationError,
  ViewSchemaMigrator,
  type ViewSchemaMigratorOptions,
} from "./view_schema_migrator.ts";
export {
  ReplayRecordStore,
  type ReplayRecordStoreOptions,
  type ReplayTarget,
} from "./replay_record_store.ts";
export { SqlRecordStore, type TableLocator } from "./sql_record_store.ts";
export {
  type DatabaseHolder,
  DatabaseInUseError,
  type DatabaseUse,
} from "./database_in_use_error.ts";
export type { EmbeddedOptions, WhenHeld } from "./embedded_options.ts";
export {
  createDatabase,
  type DatabaseLocation,
  dropDatabase,
  locateDatabase,
} from "./database_admin.ts";
export {
  createIndexesSql,
  createTableSql,
  qualifiedTableName,
  quoteIdent,
  sqlTypeOf,
} from "./table_sql.ts";
