/**
 * View-schema versions and migrations, as Sequent's `migrate:online` and
 * `migrate:offline`, with the catch-up step of its background replay: a
 * new version's tables are built beside the live ones by replaying events
 * while the application runs, then swapped in.
 *
 * - **online** builds the new version's tables (named
 *   `<table>_v<version>`) and replays into them every event of the types
 *   their projectors handle that was written before a boundary: the oldest
 *   transaction still running when the migration started
 *   (`pg_snapshot_xmin`). Commands keep running meanwhile and keep writing
 *   the live tables, which it never touches. The replay runs in
 *   transactions of `chunkSize` events, each recording how far the rows it
 *   wrote go: each holds the cluster's horizon back (processors wait for
 *   it) only while it runs, a killed run goes on from its last flush
 *   committed when started again, and a run that fails (a projector
 *   throws) drops what it built.
 * - **catchup** (optional, repeatable) replays what was stored since the
 *   boundary up to a new one, and moves the boundary, holding no writer
 *   back: the projectors are `replaying` until the swap.
 * - **offline**, in one transaction, holds back new event writes (a `SHARE`
 *   lock on the events table: writers wait, readers do not), replays the
 *   events written since the boundary into the new tables, runs the
 *   versions' `ALTER` statements, drops the old tables and renames the new
 *   ones in. Writers resume on the new tables once it commits.
 * - Projectors that run as **processors** are rebuilt the same way, so
 *   their new tables are complete at the swap; offline replays their events
 *   up to the boundary it takes under the lock and moves their checkpoints
 *   there, and the processors go on from it in the new tables: every event
 *   takes effect once, by the replay or by the processor.
 * - A second migration while one runs fails at once with
 *   {@linkcode ConcurrentMigrationError} (a transaction-level advisory lock).
 *
 * @module
 */
import { SequentError } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import { handledEventTypes } from "../core/event_dispatch.ts";
import type { StreamPosition } from "../core/event_reader.ts";
import { Projector } from "../core/projector.ts";
import { replayProjectors } from "../core/replay.ts";
import type { Telemetry } from "../core/telemetry.ts";
import type { RecordTable } from "../core/record_table.ts";
import type {
  AlterTable,
  MigrateOptions,
  MigrationReport,
  MigrationStatus,
  Migrator,
  ProgressOutput,
  ProjectorClass,
  ProjectorState,
  ViewSchemaVersions,
} from "../core/view_schema.ts";
import type { MessageSerializer } from "../core/serializer.ts";
import { Progress } from "../core/progress.ts";
import type {
  SqlClient,
  SqlCopyRows,
  SqlExecutor,
  SqlOptions,
  SqlRow,
  SqlStatement,
  SqlTransaction,
  SqlValue,
} from "./sql_client.ts";
import { DONE, ReplayRecordStore } from "./replay_record_store.ts";
import type { ReplayedEvent } from "./_replay_decoder.ts";
import { restartProcessorSql } from "./_processor_sql.ts";
import { quotedSchema } from "./_sql_text.ts";
import {
  CopyReplayReader,
  type ReplayKey,
  replayKeyOf,
  type ReplayProgress,
} from "./_replay_reader.ts";
import { MAX_XACT_ID, parseStreamPosition } from "./_stream_position.ts";
import {
  createIndexesSql,
  createTableSql,
  qualifiedTableName,
  quoteIdent,
} from "./table_sql.ts";

/**
 * A second migration was started while one is running.
 *
 * @example
 * ```ts
 * import { ConcurrentMigrationError } from "@sequent/core/postgres";
 *
 * console.assert(new ConcurrentMigrationError("view_schema").schema === "view_schema");
 * ```
 */
export class ConcurrentMigrationError extends SequentError {
  /** The view schema being migrated. */
  readonly schema: string;

  /**
   * Creates the error.
   *
   * @param schema The view schema being migrated.
   */
  constructor(schema: string) {
    super(
      `Another migration of view schema "${schema}" is running: wait for it to finish`,
    );
    this.name = "ConcurrentMigrationError";
    this.schema = schema;
  }
}

/**
 * How to build a {@linkcode ViewSchemaMigrator}.
 *
 * @example
 * ```ts
 * import type { ViewSchemaMigratorOptions } from "@sequent/core/postgres";
 *
 * type Versions = ViewSchemaMigratorOptions["versions"];
 * ```
 */
export interface ViewSchemaMigratorOptions {
  /** The database. */
  readonly client: SqlClient;
  /** The event store's schema (default `sequent_schema`). */
  readonly eventStoreSchema?: string | undefined;
  /** The view schema (default `view_schema`). */
  readonly viewSchema?: string | undefined;
  /** The versions. */
  readonly versions: ViewSchemaVersions;
  /** The application's projector instances (others are constructed). */
  readonly projectors?: readonly Projector[] | undefined;
  /** Reads the stored events. */
  readonly serializer: MessageSerializer;
  /** Where warnings go. */
  readonly logger?: Logger | undefined;
  /** Events read per `COPY` (default 20,000). */
  readonly batchSize?: number | undefined;
  /** Rows held in memory before a flush (default 50,000). */
  readonly flushEvery?: number | undefined;
  /**
   * Events `online` replays per transaction (default 100,000): each holds
   * the cluster's horizon back (so processors wait) only while it runs. A
   * transaction does not flush rows at its end: those held stay in memory
   * for the next one to write, so a stopped run goes on from the last
   * flush (`flushEvery`) committed.
   */
  readonly chunkSize?: number | undefined;
  /**
   * The names of the projectors that run asynchronously, as processors
   * (see `ProcessorRunner`), by class: a new version builds their tables
   * like any projector's and, at the swap, moves their checkpoints to where
   * the replay ended, so they go on from there in the new tables.
   */
  readonly processors?: ReadonlyMap<ProjectorClass, string> | undefined;
  /** Where replays are traced and counted (default: nowhere). */
  readonly telemetry?: Telemetry | undefined;
}

interface Plan {
  readonly current: number;
  readonly target: number;
  readonly projectors: readonly Projector[];
  readonly tables: readonly RecordTable[];
  readonly alters: readonly AlterTable[];
}

const LOCK_NAMESPACE = 0x53514e54; // "SQNT"

/**
 * Runs view-schema migrations (see the module documentation).
 *
 * @example Build the first version's tables on the embedded database
 * ```ts
 * import { column, Projector, table } from "@sequent/core";
 * import { MessageSerializer } from "@sequent/core/internal";
 * import { connectDatabase, installEventStore, ViewSchemaMigrator } from "@sequent/core/postgres";
 *
 * const notes = table("note_records", { aggregateId: column.uuid().primaryKey() });
 * class NoteProjector extends Projector {
 *   static override readonly manages = [notes];
 * }
 * const client = await connectDatabase("memory://");
 * await installEventStore(client);
 * const migrator = new ViewSchemaMigrator({
 *   client,
 *   versions: { 1: [NoteProjector] },
 *   serializer: new MessageSerializer(),
 * });
 * await migrator.migrate({ progress: false });
 * console.assert((await migrator.status()).currentVersion === 1);
 * await client.close();
 * ```
 */
export class ViewSchemaMigrator implements Migrator {
  readonly #client: SqlClient;
  readonly #events: string;
  readonly #view: string;
  readonly #viewName: string;
  readonly #versions: ViewSchemaVersions;
  readonly #projectors: readonly Projector[];
  readonly #serializer: MessageSerializer;
  readonly #logger: Logger | undefined;
  readonly #batchSize: number;
  readonly #flushEvery: number | undefined;
  readonly #chunkSize: number;
  readonly #processors: ReadonlyMap<ProjectorClass, string>;
  readonly #telemetry: Telemetry | undefined;

  /**
   * Creates a migrator.
   *
   * @param options The database, schemas, versions and projectors.
   */
  constructor(options: ViewSchemaMigratorOptions) {
    this.#client = options.client;
    this.#events = quotedSchema(options.eventStoreSchema ?? "sequent_schema");
    this.#viewName = options.viewSchema ?? "view_schema";
    this.#view = quotedSchema(this.#viewName);
    this.#versions = checkVersions(options.versions);
    this.#projectors = options.projectors ?? [];
    this.#serializer = options.serializer;
    this.#logger = options.logger;
    this.#batchSize = options.batchSize ?? 20_000;
    this.#flushEvery = options.flushEvery;
    this.#chunkSize = options.chunkSize ?? 100_000;
    if (!Number.isSafeInteger(this.#chunkSize) || this.#chunkSize < 1) {
      throw new RangeError(
        `chunkSize must be a positive integer, got ${this.#chunkSize}`,
      );
    }
    this.#processors = options.processors ?? new Map();
    this.#telemetry = options.telemetry;
  }

  /** The highest declared version. */
  get targetVersion(): number {
    return Math.max(0, ...Object.keys(this.#versions).map(Number));
  }

  /**
   * Creates the view schema and its versions table (idempotent).
   */
  async install(): Promise<void> {
    await this.#client.execute(this.#installSql());
  }

  #installSql(): string {
    return `CREATE SCHEMA IF NOT EXISTS ${this.#view};
CREATE TABLE IF NOT EXISTS ${this.#view}.sequent_versions (
  version integer PRIMARY KEY,
  status text NOT NULL CHECK (status IN ('online', 'done')),
  xmin_xact_id xid8,
  started_at timestamptz NOT NULL DEFAULT now(),
  done_at timestamptz
);
CREATE UNIQUE INDEX IF NOT EXISTS sequent_versions_one_online
  ON ${this.#view}.sequent_versions ((true)) WHERE status = 'online';
ALTER TABLE ${this.#view}.sequent_versions
  ADD COLUMN IF NOT EXISTS replayed boolean NOT NULL DEFAULT true,
  ADD COLUMN IF NOT EXISTS replay_cursor text,
  ADD COLUMN IF NOT EXISTS builder text;`;
  }

  async #lock(tx: SqlTransaction): Promise<void> {
    const [row] = await tx.query<{ locked: boolean }>(
      "SELECT pg_try_advisory_xact_lock($1::int, hashtext($2::text)) AS locked",
      [LOCK_NAMESPACE, this.#viewName],
    );
    if (!row?.locked) throw new ConcurrentMigrationError(this.#viewName);
  }

  /**
   * The same lock for a step of a run under way (a chunk of online's
   * replay, its clean-up): waits for whoever holds it for a moment (a
   * `status()` takes it to look), then the builder check tells whether
   * another run took the build over meanwhile.
   */
  async #lockWaiting(tx: SqlTransaction): Promise<void> {
    await tx.query(
      "SELECT pg_advisory_xact_lock($1::int, hashtext($2::text))",
      [LOCK_NAMESPACE, this.#viewName],
    );
  }

  async #versionRows(
    tx: SqlTransaction | SqlClient,
  ): Promise<VersionRow[]> {
    const [exists] = await tx.query<{ found: boolean }>(
      "SELECT to_regclass($1::text) IS NOT NULL AS found",
      [`${this.#view}.sequent_versions`],
    );
    if (!exists?.found) return [];
    // (read through to_jsonb: a table made before the build columns
    // existed has none until the next migration step adds them)
    return await tx.query(
      `SELECT version, status, xmin_xact_id::text AS xmin,
         coalesce((to_jsonb(v) ->> 'replayed')::boolean, true) AS replayed,
         to_jsonb(v) ->> 'replay_cursor' AS cursor,
         to_jsonb(v) ->> 'builder' AS builder
       FROM ${this.#view}.sequent_versions v ORDER BY version`,
    );
  }

  #plan(current: number): Plan {
    const target = this.targetVersion;
    const classes = new Set<ProjectorClass>();
    const alters: AlterTable[] = [];
    for (
      const version of Object.keys(this.#versions).map(Number).sort((a, b) =>
        a - b
      )
    ) {
      if (version <= current) continue;
      for (const item of this.#versions[version] ?? []) {
        if (typeof item === "function") classes.add(item);
        else alters.push(item);
      }
    }
    const projectors = [...classes].map((cls) => this.#instance(cls));
    const tables = [
      ...new Set(projectors.flatMap((p) => [
        ...(p.constructor as typeof Projector).manages,
      ])),
    ];
    return {
      current,
      target,
      projectors,
      tables,
      // a table rebuilt from events needs no in-place change
      alters: alters.filter((a) => !tables.includes(a.table)),
    };
  }

  #instance(cls: ProjectorClass): Projector {
    const found = this.#projectors.find((p) => p.constructor === cls);
    if (found) return found;
    return new (cls as unknown as new () => Projector)();
  }

  /**
   * Starts a migration step: takes the lock, makes sure the versions table
   * exists, and reads where the schema stands.
   */
  async #begin(tx: SqlTransaction): Promise<{
    current: number;
    plan: Plan;
    online: VersionRow | undefined;
  }> {
    await this.#lock(tx);
    await tx.execute(this.#installSql());
    const rows = await this.#versionRows(tx);
    const current = currentVersion(rows);
    return {
      current,
      plan: this.#plan(current),
      online: rows.find((r) => r.status === "online"),
    };
  }

  /** Where the view schema stands. */
  async status(): Promise<MigrationStatus> {
    return await this.#client.transaction(async (tx) => {
      const rows = await this.#versionRows(tx);
      const current = currentVersion(rows);
      const online = rows.find((r) => r.status === "online");
      const [lock] = await tx.query<{ free: boolean }>(
        "SELECT pg_try_advisory_xact_lock($1::int, hashtext($2::text)) AS free",
        [LOCK_NAMESPACE, this.#viewName],
      );
      const plan = this.#plan(current);
      return {
        currentVersion: current,
        targetVersion: plan.target,
        state: plan.target <= current
          ? "up-to-date"
          : online?.version === plan.target && online.replayed
          ? "online-done"
          : "pending",
        running: !lock?.free,
        tables: plan.target > current ? plan.tables.map((t) => t.name) : [],
        projectors: this.#projectorStates(
          current,
          online?.version === plan.target ? plan : undefined,
        ),
        problems: await this.#problems(tx, current, plan),
      };
    });
  }

  /**
   * Where the declarations and the database disagree beyond what this
   * plan's migration mends (see `MigrationStatus.problems`).
   */
  async #problems(
    tx: SqlTransaction,
    current: number,
    plan: Plan,
  ): Promise<string[]> {
    const problems: string[] = [];
    const next = plan.target + 1;
    const versioned = new Set<unknown>();
    for (const items of Object.values(this.#versions)) {
      for (const item of items) {
        if (typeof item === "function") versioned.add(item);
      }
    }
    for (const projector of this.#projectors) {
      const name = projector.constructor.name;
      if (versioned.has(projector.constructor)) continue;
      // (a projector with no tables of its own needs no version)
      if ((projector.constructor as typeof Projector).manages.length === 0) {
        continue;
      }
      problems.push(
        `${name} is in no view-schema version, so its tables are never built: add a version that lists it (${next}: [${name}]), then migrate${IN_AN_APP}`,
      );
    }
    if (current === 0) return problems;
    // the live tables, as the versions built so far declare them, less
    // those the pending migration rebuilds or alters
    const live = new Map<RecordTable, string | undefined>();
    for (
      const version of Object.keys(this.#versions).map(Number).sort((a, b) =>
        a - b
      )
    ) {
      if (version > current) continue;
      for (const item of this.#versions[version] ?? []) {
        if (typeof item === "function") {
          for (const t of (item as unknown as typeof Projector).manages) {
            live.set(t, item.name);
          }
        } else if (!live.has(item.table)) live.set(item.table, undefined);
      }
    }
    for (const table of plan.tables) live.delete(table);
    for (const alter of plan.alters) live.delete(alter.table);
    if (live.size === 0) return problems;
    const rows = await tx.query<{ table_name: string; column_name: string }>(
      `SELECT table_name::text, column_name::text FROM information_schema.columns
       WHERE table_schema = $1
         AND table_name IN (SELECT jsonb_array_elements_text($2::text::jsonb))`,
      [this.#viewName, JSON.stringify([...live.keys()].map((t) => t.name))],
    );
    const columns = new Map<string, Set<string>>();
    for (const row of rows) {
      let set = columns.get(row.table_name);
      if (!set) columns.set(row.table_name, set = new Set());
      set.add(row.column_name);
    }
    for (const [table, owner] of live) {
      const fix = owner === undefined
        ? `add a version that rebuilds or alters it, then migrate${IN_AN_APP}`
        : `add a version that lists ${owner} (${next}: [${owner}]), then migrate${IN_AN_APP}`;
      const found = columns.get(table.name);
      if (!found) {
        problems.push(
          `Table ${table.name} is not in view schema "${this.#viewName}" (version ${current}), but a built version declares it: ${fix}`,
        );
        continue;
      }
      const missing = table.columnNames.map((c) => table.sqlName(c)).filter(
        (c) => !found.has(c),
      );
      if (missing.length > 0) {
        problems.push(
          `Table ${table.name} has no column ${
            missing.join(", ")
          } in view schema "${this.#viewName}" (version ${current}), though its definition has: a changed table needs a new view-schema version; ${fix}`,
        );
      }
    }
    return problems;
  }

  /**
   * Builds the new version's tables beside the live ones from the events
   * written before the migration started (see the module documentation).
   *
   * @param options Where progress goes.
   * @returns What was done.
   * @throws {ConcurrentMigrationError} when another migration runs.
   */
  async online(options: MigrateOptions = {}): Promise<MigrationReport> {
    const started = performance.now();
    // one online run per client at a time in this process: a second one
    // waits for the first, then finds nothing to do
    const previous = building.get(this.#client);
    const run = (previous ?? Promise.resolve()).catch(() => {}).then(() =>
      this.#online(options, started)
    );
    building.set(this.#client, run);
    try {
      return await run;
    } finally {
      if (building.get(this.#client) === run) building.delete(this.#client);
    }
  }

  async #online(
    options: MigrateOptions,
    started: number,
  ): Promise<MigrationReport> {
    const build = await this.#client.transaction(async (tx) => {
      const { current, plan, online } = await this.#begin(tx);
      if (
        plan.target <= current ||
        (online?.version === plan.target && online.replayed)
      ) {
        return { plan, skip: true as const };
      }
      const builder = crypto.randomUUID();
      if (online?.version === plan.target) {
        // an earlier run stopped part of the way: go on where it stopped
        await tx.query(
          `UPDATE ${this.#view}.sequent_versions SET builder = $2 WHERE version = $1`,
          [plan.target, builder],
        );
        return {
          plan,
          skip: false as const,
          builder,
          boundary: `${online.xmin}:0`,
          resumeAfter: parseCursor(online.cursor),
        };
      }
      if (online) {
        // built for a version the code no longer targets: start over
        await this.#dropTables(tx, plan.tables, online.version);
        for (const table of this.#allTables()) {
          await tx.execute(
            `DROP TABLE IF EXISTS ${this.#qualified(table, online.version)}`,
          );
        }
        await tx.query(
          `DELETE FROM ${this.#view}.sequent_versions WHERE version = $1`,
          [online.version],
        );
      }
      const boundary = await new CopyReplayReader(tx, this.#events)
        .replayBoundary();
      const [xmin] = parseStreamPosition(boundary);
      await this.#dropTables(tx, plan.tables, plan.target);
      for (const table of plan.tables) {
        await tx.execute(
          createTableSql(table, this.#viewName, suffix(plan.target)),
        );
      }
      await tx.query(
        `INSERT INTO ${this.#view}.sequent_versions
           (version, status, xmin_xact_id, replayed, builder)
         VALUES ($1, 'online', $2::text::xid8, false, $3)`,
        [plan.target, xmin, builder],
      );
      return {
        plan,
        skip: false as const,
        builder,
        boundary,
        resumeAfter: undefined,
      };
    });
    const { plan } = build;
    if (build.skip) {
      return this.#report("online", plan, false, 0, 0, 0, started);
    }
    let replayed: Replayed;
    try {
      replayed = await this.#build(
        plan,
        build.builder,
        build.boundary,
        build.resumeAfter,
        options,
      );
    } catch (error) {
      if (!(error instanceof ConcurrentMigrationError)) {
        // (what it leaves, the next run goes on from; the error that
        // stopped this one is the one to report)
        await this.#abandon(plan, build.builder).catch((cleanup: unknown) =>
          this.#logger?.log(
            "warn",
            `migrate online: the tables of version ${plan.target} stay as they are: ${
              cleanup instanceof Error ? cleanup.message : String(cleanup)
            }`,
          )
        );
      }
      throw error;
    }
    return this.#report(
      "online",
      plan,
      true,
      replayed.events,
      replayed.rows,
      replayed.peakRows,
      started,
    );
  }

  /**
   * The replay of `online`, in transactions of `chunkSize` events, each
   * ending with how far the rows written go (see `cursor` below); then the
   * indexes, and the version marked built. Each transaction holds the
   * cluster's horizon back only while it runs, so processors go on between
   * them; each checks that this run still builds the version (a run taking
   * over an interrupted build changes the builder).
   */
  async #build(
    plan: Plan,
    builder: string,
    boundary: StreamPosition,
    resumeAfter: ReplayKey | undefined,
    options: MigrateOptions,
  ): Promise<Replayed> {
    const projectors = plan.projectors;
    const eventTypes = handledEventTypes(projectors);
    const chunk = new CurrentTransaction();
    // one record store for the whole build, writing through the chunk's
    // transaction: what it knows of the rows it flushed stays true
    const store = new ReplayRecordStore(
      chunk,
      (table) => ({
        schema: this.#viewName,
        name: table.name + suffix(plan.target),
      }),
      { flushEvery: this.#flushEvery, existingRows: resumeAfter !== undefined },
    );
    let progress: Progress | undefined;
    let counted = false;
    let events = 0;
    // Where reading got to, and the cursor: the last event whose effects
    // the committed tables hold, and none after it. A chunk does not flush
    // at its end: it waits for the flushes under way, commits, and the rows
    // changed since its last flush stay in memory for the next chunk to
    // write. So its cursor is the last event handled before that flush,
    // when the flush started between aggregates (a "clean" flush: no event
    // half handled); after any other flush, the chunk flushes at its end.
    let after = resumeAfter;
    let cursor = resumeAfter;
    let clean:
      | { readonly key: ReplayKey; readonly flushes: number }
      | undefined;
    for (let done = false; !done;) {
      done = await this.#client.transaction(async (tx) => {
        chunk.current = tx;
        try {
          await this.#lockWaiting(tx);
          await this.#checkBuilder(tx, plan.target, builder);
          if (!counted && options.progress !== false) {
            counted = true;
            const total = await new CopyReplayReader(tx, this.#events, {
              resumeAfter: after,
            }).count({ eventTypes, upTo: boundary });
            if (total > 0) {
              progress = new Progress("migrate online: replaying", total, {
                output: options.progress || standardError(),
              });
            }
          }
          const start = after;
          const reached: ReplayProgress = { last: after, cut: false };
          const reader = new CopyReplayReader(tx, this.#events, {
            resumeAfter: after,
            stopAfter: this.#chunkSize,
            progress: reached,
          });
          const part = await replayProjectors(reader, {
            projectors,
            serializer: this.#serializer,
            records: store,
            upTo: boundary,
            batchSize: this.#batchSize,
            telemetry: this.#telemetry,
            onBatch: progress && ((n) => progress!.advance(n)),
            betweenAggregates: (previous) => {
              const flushes = store.flushes;
              const full = store.flushIfFull();
              if (store.flushes !== flushes) {
                const key = previous
                  ? replayKeyOf(previous as ReplayedEvent)
                  : start;
                if (key) clean = { key, flushes: store.flushes };
              }
              return full === DONE ? undefined : full;
            },
          });
          events += part.events;
          after = reached.last;
          if (reached.cut) {
            if (store.flushes === (clean?.flushes ?? 0)) {
              await store.written();
              if (clean) cursor = clean.key;
            } else {
              await store.flush();
              cursor = after;
              if (after) clean = { key: after, flushes: store.flushes };
            }
            await tx.query(
              `UPDATE ${this.#view}.sequent_versions SET replay_cursor = $2 WHERE version = $1`,
              [
                plan.target,
                cursor === undefined ? null : JSON.stringify(cursor),
              ],
            );
            return false;
          }
          await store.flush();
          for (const table of plan.tables) {
            for (
              const statement of createIndexesSql(
                table,
                this.#viewName,
                suffix(plan.target),
              )
            ) {
              await tx.execute(statement);
            }
          }
          await tx.query(
            `UPDATE ${this.#view}.sequent_versions
               SET replayed = true, replay_cursor = NULL, builder = NULL
             WHERE version = $1`,
            [plan.target],
          );
          return true;
        } finally {
          chunk.current = undefined;
        }
      });
    }
    progress?.finish();
    return { events, rows: store.flushedRows, peakRows: store.peakRows };
  }

  /**
   * The target version's row, once `online` has built it; else the error
   * naming what to run before `step`.
   */
  #built(
    online: VersionRow | undefined,
    current: number,
    plan: Plan,
    step: string,
  ): VersionRow & { readonly xmin: string } {
    if (online?.version !== plan.target) {
      throw new SequentError(
        `View schema "${this.#viewName}" is at version ${current}: run "migrate online" for version ${plan.target} before "migrate ${step}"`,
      );
    }
    if (!online.replayed || online.xmin === null) {
      throw new SequentError(
        `View schema "${this.#viewName}": "migrate online" for version ${plan.target} has not finished (it runs, or was stopped): run it to finish before "migrate ${step}"`,
      );
    }
    return online as VersionRow & { readonly xmin: string };
  }

  /** Fails with ConcurrentMigrationError unless `builder` builds `version`. */
  async #checkBuilder(
    tx: SqlTransaction,
    version: number,
    builder: string,
  ): Promise<void> {
    const [row] = await tx.query<{ builder: string | null }>(
      `SELECT builder FROM ${this.#view}.sequent_versions WHERE version = $1 AND status = 'online'`,
      [version],
    );
    if (row?.builder !== builder) {
      throw new ConcurrentMigrationError(this.#viewName);
    }
  }

  /** Drops what a failed build made, unless another run took it over. */
  async #abandon(plan: Plan, builder: string): Promise<void> {
    await this.#client.transaction(async (tx) => {
      await this.#lockWaiting(tx);
      await this.#checkBuilder(tx, plan.target, builder);
      await this.#dropTables(tx, plan.tables, plan.target);
      await tx.query(
        `DELETE FROM ${this.#view}.sequent_versions WHERE version = $1`,
        [plan.target],
      );
    });
  }

  /**
   * Replays into the new tables the events stored since `online` (or the
   * last catch-up) up to a new boundary, and moves the version's boundary
   * there, in one transaction that holds no writer back. `offline` then has
   * only what came after to replay while writers wait: run this first, as
   * often as you like, when much was written since `online`. As Sequent's
   * background replay, whose `replayed` and `catching up` states this
   * alternates between.
   *
   * @param options Where progress goes.
   * @returns What was done.
   * @throws {ConcurrentMigrationError} when another migration runs.
   * @throws {SequentError} when `online` has not run for the target version.
   */
  async catchUp(options: MigrateOptions = {}): Promise<MigrationReport> {
    const started = performance.now();
    return await this.#client.transaction(async (tx) => {
      const { current, plan, online } = await this.#begin(tx);
      if (plan.target <= current) {
        return this.#report("catchup", plan, false, 0, 0, 0, started);
      }
      const built = this.#built(online, current, plan, "catchup");
      const boundary = await new CopyReplayReader(tx, this.#events)
        .replayBoundary();
      const [xmin] = parseStreamPosition(boundary);
      if (BigInt(xmin) <= BigInt(built.xmin)) {
        return this.#report("catchup", plan, false, 0, 0, 0, started);
      }
      const replayed = await this.#replay(
        tx,
        plan,
        plan.projectors,
        { after: `${built.xmin}:0`, upTo: boundary },
        true,
        options,
        "catchup",
      );
      await tx.query(
        `UPDATE ${this.#view}.sequent_versions SET xmin_xact_id = $2::text::xid8 WHERE version = $1`,
        [plan.target, xmin],
      );
      return this.#report(
        "catchup",
        plan,
        true,
        replayed.events,
        replayed.rows,
        replayed.peakRows,
        started,
      );
    });
  }

  /**
   * Replays the events written since `online` started into the new tables,
   * runs the versions' in-place changes, and swaps the new tables in, in
   * one transaction (see the module documentation).
   *
   * @param options Where progress goes.
   * @returns What was done.
   * @throws {ConcurrentMigrationError} when another migration runs.
   * @throws {SequentError} when `online` has not run for the target version.
   */
  async offline(options: MigrateOptions = {}): Promise<MigrationReport> {
    const started = performance.now();
    return await this.#client.transaction(async (tx) => {
      const { current, plan, online } = await this.#begin(tx);
      if (plan.target <= current) {
        return this.#report("offline", plan, false, 0, 0, 0, started);
      }
      const built = this.#built(online, current, plan, "offline");
      // Writers wait from here until the swap commits; readers go on.
      await tx.execute(`LOCK TABLE ${this.#events}.events IN SHARE MODE`);
      const after = `${built.xmin}:0`;
      // Inline projectors get every event stored (no writer can add one
      // before the swap commits, and the writers waiting then project into
      // the new tables themselves). A processor's tables get the events up
      // to the boundary under the lock: a writer waiting for the lock
      // already has its transaction id, so this boundary is below its
      // events, and the processor goes on from it after the swap.
      const handover = await new CopyReplayReader(tx, this.#events)
        .replayBoundary();
      const inline = plan.projectors.filter((p) => !this.#isProcessor(p));
      const processors = plan.projectors.filter((p) => this.#isProcessor(p));
      const replayed = sum(
        await this.#replay(
          tx,
          plan,
          inline,
          { after, upTo: `${MAX_XACT_ID}:0` },
          true,
          options,
          "offline",
        ),
        await this.#replay(
          tx,
          plan,
          processors,
          { after, upTo: handover },
          true,
          options,
          "offline",
        ),
      );
      for (const alter of plan.alters) {
        await tx.execute(
          alter.sql.replaceAll(
            "{table}",
            qualifiedTableName(alter.table, this.#viewName),
          ),
        );
      }
      for (const table of plan.tables) {
        await tx.execute(
          `DROP TABLE IF EXISTS ${qualifiedTableName(table, this.#viewName)}`,
        );
        await tx.execute(
          `ALTER TABLE ${this.#qualified(table, plan.target)} RENAME TO ${
            quoteIdent(table.name)
          }`,
        );
      }
      // their processors go on from the boundary, in the new tables
      const [handoverXact] = parseStreamPosition(handover);
      for (const projector of processors) {
        await tx.query(restartProcessorSql(this.#events), [
          this.#processorName(projector),
          handoverXact,
        ]);
      }
      await tx.query(
        `UPDATE ${this.#view}.sequent_versions SET status = 'done', done_at = now() WHERE version = $1`,
        [plan.target],
      );
      return this.#report(
        "offline",
        plan,
        true,
        replayed.events,
        replayed.rows,
        replayed.peakRows,
        started,
      );
    });
  }

  /**
   * Both steps, one after the other: the development shortcut.
   *
   * @param options Where progress goes.
   * @returns What each step did.
   */
  async migrate(options: MigrateOptions = {}): Promise<MigrationReport[]> {
    const online = await this.online(options);
    const offline = await this.offline(options);
    return [online, offline];
  }

  /** Each declared projector's state (see `ProjectorState`). */
  #projectorStates(
    current: number,
    building: Plan | undefined,
  ): ProjectorState[] {
    const states = new Map<ProjectorClass, ProjectorState["state"]>();
    for (
      const version of Object.keys(this.#versions).map(Number).sort((a, b) =>
        a - b
      )
    ) {
      for (const item of this.#versions[version] ?? []) {
        if (typeof item !== "function") continue;
        const built = version <= current;
        if (!states.has(item) || built) {
          states.set(item, built ? "active" : "inactive");
        }
      }
    }
    for (const projector of building?.projectors ?? []) {
      states.set(projector.constructor as ProjectorClass, "replaying");
    }
    return [...states].map(([cls, state]) => ({
      name: cls.name,
      state,
      processor: this.#processors.has(cls),
    }));
  }

  #isProcessor(projector: Projector): boolean {
    return this.#processors.has(projector.constructor as ProjectorClass);
  }

  #processorName(projector: Projector): string {
    return this.#processors.get(projector.constructor as ProjectorClass) ??
      projector.constructor.name;
  }

  #allTables(): RecordTable[] {
    const tables = new Set<RecordTable>();
    for (const items of Object.values(this.#versions)) {
      for (const item of items) {
        if (typeof item === "function") {
          for (const t of (item as unknown as typeof Projector).manages) {
            tables.add(t);
          }
        } else tables.add(item.table);
      }
    }
    return [...tables];
  }

  #qualified(table: RecordTable, version: number): string {
    return qualifiedTableName(table, this.#viewName, suffix(version));
  }

  async #dropTables(
    tx: SqlTransaction,
    tables: readonly RecordTable[],
    version: number,
  ): Promise<void> {
    for (const table of tables) {
      await tx.execute(
        `DROP TABLE IF EXISTS ${this.#qualified(table, version)}`,
      );
    }
  }

  async #replay(
    tx: SqlTransaction,
    plan: Plan,
    projectors: readonly Projector[],
    range: { readonly after?: StreamPosition; readonly upTo: StreamPosition },
    existingRows: boolean,
    options: MigrateOptions,
    step: string,
  ): Promise<Replayed> {
    const eventTypes = handledEventTypes(projectors);
    if (eventTypes?.length === 0) return NOTHING_REPLAYED;
    const reader = new CopyReplayReader(tx, this.#events);
    const { after, upTo } = range;
    let progress: Progress | undefined;
    if (options.progress !== false) {
      const total = await reader.count({ eventTypes, after, upTo });
      if (total === 0) return NOTHING_REPLAYED;
      progress = new Progress(`migrate ${step}: replaying`, total, {
        output: options.progress || standardError(),
      });
    }
    const store = new ReplayRecordStore(
      tx,
      (table) => ({
        schema: this.#viewName,
        name: table.name + suffix(plan.target),
      }),
      { flushEvery: this.#flushEvery, existingRows },
    );
    const { events } = await replayProjectors(reader, {
      projectors,
      serializer: this.#serializer,
      records: store,
      after,
      upTo,
      batchSize: this.#batchSize,
      telemetry: this.#telemetry,
      onBatch: progress && ((n) => progress.advance(n)),
      betweenAggregates: () => {
        const full = store.flushIfFull();
        return full === DONE ? undefined : full;
      },
    });
    await store.flush();
    progress?.finish();
    return { events, rows: store.flushedRows, peakRows: store.peakRows };
  }

  #report(
    step: MigrationReport["step"],
    plan: Plan,
    changed: boolean,
    events: number,
    rows: number,
    peakRows: number,
    started: number,
  ): MigrationReport {
    return {
      step,
      version: changed ? plan.target : plan.current,
      changed,
      tables: changed ? plan.tables.map((t) => t.name) : [],
      events,
      rows,
      peakRows,
      durationMs: performance.now() - started,
    };
  }
}

/**
 * The transaction of the chunk of `online`'s replay being run: the replay's
 * record store outlives each one.
 */
class CurrentTransaction implements SqlExecutor {
  current: SqlTransaction | undefined;

  #tx(): SqlTransaction {
    if (!this.current) throw new SequentError("No replay transaction is open");
    return this.current;
  }

  query<Row = SqlRow>(
    text: string,
    params?: readonly SqlValue[],
    options?: SqlOptions,
  ): Promise<Row[]> {
    return this.#tx().query<Row>(text, params, options);
  }

  batch(
    statements: readonly SqlStatement[],
    options?: SqlOptions,
  ): Promise<SqlRow[][]> {
    return this.#tx().batch(statements, options);
  }

  execute(script: string): Promise<void> {
    return this.#tx().execute(script);
  }

  copyIn(
    table: string,
    columns: readonly string[],
    rows: SqlCopyRows,
  ): Promise<number> {
    return this.#tx().copyIn(table, columns, rows);
  }

  copyOut(
    query: string,
    onData: (chunk: Uint8Array) => void,
  ): Promise<number> {
    return this.#tx().copyOut(query, onData);
  }
}

/** A row of the versions table. */
interface VersionRow {
  readonly version: number;
  readonly status: string;
  readonly xmin: string | null;
  /** Whether online's replay has finished (false: it runs or was stopped). */
  readonly replayed: boolean;
  /** Where online's replay got to (JSON of a `ReplayKey`). */
  readonly cursor: string | null;
  /** The run building the version. */
  readonly builder: string | null;
}

/** The online run in progress per client, in this process. */
const building = new WeakMap<SqlClient, Promise<MigrationReport>>();

/** A replay cursor stored as JSON, checked. */
function parseCursor(text: string | null): ReplayKey | undefined {
  if (text === null) return undefined;
  const value: unknown = JSON.parse(text);
  if (
    !Array.isArray(value) || value.length !== 3 ||
    value.some((part) => typeof part !== "string")
  ) {
    throw new SequentError(`Unexpected replay cursor ${text}`);
  }
  return value as unknown as ReplayKey;
}

/** What one replay did. */
interface Replayed {
  readonly events: number;
  readonly rows: number;
  readonly peakRows: number;
}

const NOTHING_REPLAYED: Replayed = { events: 0, rows: 0, peakRows: 0 };

function sum(a: Replayed, b: Replayed): Replayed {
  return {
    events: a.events + b.events,
    rows: a.rows + b.rows,
    peakRows: Math.max(a.peakRows, b.peakRows),
  };
}

/** The version the live tables are at: the highest one done (0: none). */
function currentVersion(
  rows: readonly { version: number; status: string }[],
): number {
  return Math.max(
    0,
    ...rows.filter((r) => r.status === "done").map((r) => r.version),
  );
}

/** How a generated app runs `migrate`, for the problems' advice. */
const IN_AN_APP = ' ("deno task migrate" in a generated app)';

function suffix(version: number): string {
  return `_v${version}`;
}

function checkVersions(versions: ViewSchemaVersions): ViewSchemaVersions {
  if (typeof versions !== "object" || versions === null) {
    throw new TypeError(
      "versions must map version numbers to lists of projectors",
    );
  }
  for (const [key, items] of Object.entries(versions)) {
    const version = Number(key);
    if (!Number.isSafeInteger(version) || version < 1) {
      throw new TypeError(
        `View schema version ${JSON.stringify(key)} must be a positive integer`,
      );
    }
    if (!Array.isArray(items)) {
      throw new TypeError(
        `View schema version ${version} must list projectors and alterTable() changes`,
      );
    }
    for (const item of items) {
      const ok = typeof item === "function"
        ? item.prototype instanceof Projector
        : typeof item === "object" && item !== null && "table" in item &&
          "sql" in item;
      if (!ok) {
        throw new TypeError(
          `View schema version ${version} lists ${
            String(item)
          }: expected a Projector class or alterTable()`,
        );
      }
    }
  }
  return versions;
}

/** The migrator's default progress output: standard error. */
function standardError(): ProgressOutput {
  const encoder = new TextEncoder();
  return {
    write: (text) => {
      Deno.stderr.writeSync(encoder.encode(text));
    },
    isTerminal: Deno.stderr.isTerminal(),
  };
}
