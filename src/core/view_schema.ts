/**
 * Declaring view-schema versions: which projectors' tables each version
 * rebuilds by replaying events, and which tables it changes in place. The
 * PostgreSQL adapter's migrator carries them out.
 *
 * @module
 */
import type { Projector } from "./projector.ts";
import type { RecordTable } from "./record_table.ts";

/**
 * Where progress of a long task (a replay) is written.
 *
 * @example
 * ```ts
 * import type { ProgressOutput } from "@sequent/core/internal";
 *
 * const lines: string[] = [];
 * const output: ProgressOutput = { write: (text) => lines.push(text), isTerminal: false };
 * ```
 */
export interface ProgressOutput {
  /** Writes text as is (no newline added). */
  write(text: string): void;
  /** Whether the output is an interactive terminal (then a bar is drawn). */
  readonly isTerminal: boolean;
}

/** A projector class, as listed in a view-schema version. */
export type ProjectorClass = abstract new (...args: never[]) => Projector;

/**
 * SQL that changes a live table in place during `migrate offline` (when a
 * version only adds a column, say, and no replay is needed). `{table}` in
 * the SQL stands for the table's qualified name.
 *
 * @example
 * ```ts
 * import { alterTable, column, table } from "@sequent/core";
 *
 * const posts = table("post_records", { aggregateId: column.uuid().primaryKey() });
 * const change = alterTable(posts, "ALTER TABLE {table} ADD COLUMN slug text");
 * console.assert(change.table === posts);
 * ```
 */
export interface AlterTable {
  /** The table changed. */
  readonly table: RecordTable;
  /** The statements, with `{table}` for its qualified name. */
  readonly sql: string;
}

/**
 * Declares SQL that alters a live table in place.
 *
 * @param table The table.
 * @param sql The statements, with `{table}` for the table's qualified name.
 * @returns The change, to list in a view-schema version.
 *
 * @example
 * ```ts
 * import { alterTable, column, table } from "@sequent/core";
 *
 * const posts = table("post_records", { aggregateId: column.uuid().primaryKey() });
 * console.assert(alterTable(posts, "ALTER TABLE {table} ADD COLUMN x int").sql.includes("{table}"));
 * ```
 */
export function alterTable(table: RecordTable, sql: string): AlterTable {
  if (typeof sql !== "string" || sql.trim() === "") {
    throw new TypeError(`alterTable(${table.name}) needs SQL`);
  }
  return Object.freeze({ table, sql });
}

/**
 * The view schema's versions: each version lists the projectors whose
 * tables are rebuilt by replaying events, and {@linkcode alterTable}
 * changes. Bump the highest version when a projector changes.
 *
 * @example
 * ```ts
 * import { column, Projector, table, type ViewSchemaVersions } from "@sequent/core";
 *
 * const notes = table("note_records", { aggregateId: column.uuid().primaryKey() });
 * class NoteProjector extends Projector {
 *   static override readonly manages = [notes];
 * }
 * const versions: ViewSchemaVersions = { 1: [NoteProjector] };
 * ```
 */
export type ViewSchemaVersions = Readonly<
  Record<number, readonly (ProjectorClass | AlterTable)[]>
>;

/**
 * Where a view schema stands.
 *
 * @example
 * ```ts
 * import type { MigrationStatus } from "@sequent/core";
 *
 * const describe = (s: MigrationStatus) => `${s.currentVersion} → ${s.targetVersion}`;
 * ```
 */
export interface MigrationStatus {
  /** The version the live tables are at (0: none yet). */
  readonly currentVersion: number;
  /** The highest version the application declares. */
  readonly targetVersion: number;
  /**
   * `"up-to-date"`, `"pending"` (run online), or `"online-done"` (the new
   * tables are built; run offline to swap them in).
   */
  readonly state: "up-to-date" | "pending" | "online-done";
  /** Whether a migration is running right now. */
  readonly running: boolean;
  /** The tables the next migration rebuilds. */
  readonly tables: readonly string[];
  /** Each declared projector's state, in declaration order. */
  readonly projectors: readonly ProjectorState[];
  /**
   * Where the application's read-side declarations and the database
   * disagree in a way no migration of these versions mends, each with what
   * to do: a projector in no version (its tables are never built), or a
   * live table that lacks a table or column its definition has (changed
   * without a new version). Empty when they agree.
   */
  readonly problems: readonly string[];
}

/**
 * A projector's state, as Sequent's projector states:
 *
 * - `active`: its tables are live and it receives events (inline, in the
 *   command's transaction, or as a processor);
 * - `replaying`: the next view-schema version's tables are being built for
 *   it by replaying events (`migrate online`, `migrate catchup`); its live
 *   tables, if it has any, are still served and kept until the swap;
 * - `inactive`: it is declared only in a version not built yet, so it has
 *   no tables and receives no events.
 *
 * @example
 * ```ts
 * import type { ProjectorState } from "@sequent/core";
 *
 * const state: ProjectorState = { name: "PostProjector", state: "replaying", processor: false };
 * ```
 */
export interface ProjectorState {
  /** The projector class's name. */
  readonly name: string;
  /** Where it stands (see the type's documentation). */
  readonly state: "active" | "replaying" | "inactive";
  /** Whether it runs asynchronously, as a processor. */
  readonly processor: boolean;
}

/**
 * What a migration step did.
 *
 * @example
 * ```ts
 * import type { MigrationReport } from "@sequent/core";
 *
 * const summary = (r: MigrationReport) => `${r.events} events into ${r.tables.join(", ")}`;
 * ```
 */
export interface MigrationReport {
  /** The step: `"online"`, `"catchup"` or `"offline"`. */
  readonly step: "online" | "catchup" | "offline";
  /** The version migrated to (or the current one when nothing was to do). */
  readonly version: number;
  /** Whether anything was done. */
  readonly changed: boolean;
  /** The tables rebuilt. */
  readonly tables: readonly string[];
  /** Events replayed. */
  readonly events: number;
  /** Rows written to the new tables. */
  readonly rows: number;
  /** The most rows held in memory at once during the replay. */
  readonly peakRows: number;
  /** How long it took, in milliseconds. */
  readonly durationMs: number;
}

/**
 * Options of one migration step.
 *
 * @example
 * ```ts
 * import type { MigrateOptions } from "@sequent/core";
 *
 * const quiet: MigrateOptions = { progress: false };
 * ```
 */
export interface MigrateOptions {
  /** Where progress goes (default: standard error); `false` for none. */
  readonly progress?: ProgressOutput | false | undefined;
}

/**
 * Carries out view-schema migrations: the PostgreSQL adapter's
 * `ViewSchemaMigrator` implements it.
 */
export interface Migrator {
  /** The highest declared version. */
  readonly targetVersion: number;
  /** Creates the view schema and its versions table (idempotent). */
  install(): Promise<void>;
  /** Where the view schema stands. */
  status(): Promise<MigrationStatus>;
  /** Builds the new version's tables beside the live ones. */
  online(options?: MigrateOptions): Promise<MigrationReport>;
  /**
   * Replays into the new tables what was stored since `online` (or the
   * last catch-up), without holding writers back: run it, as often as you
   * like, to make `offline`'s pause short.
   */
  catchUp(options?: MigrateOptions): Promise<MigrationReport>;
  /** Catches the new tables up and swaps them in. */
  offline(options?: MigrateOptions): Promise<MigrationReport>;
  /** Both steps: the development shortcut. */
  migrate(options?: MigrateOptions): Promise<MigrationReport[]>;
}
