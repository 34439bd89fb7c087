/**
 * One unit of work on PostgreSQL: what `PostgresEventStore.transaction`
 * runs the unit's work against.
 *
 * Commits and read-model writes are buffered; nothing is written until the
 * unit ends. Then every commit of the unit goes to the server as **one
 * statement, the first write of its transaction**, followed by the
 * read-model writes. That is the ordering invariant processors rely on:
 * a transaction gets its id (`xact_id`) only when it first writes, so it
 * gets it after it has read every stream it appends to, and of two
 * transactions appending to one stream, the one that committed first has
 * the smaller id. (A unit that wrote first and read later could commit
 * S:3 with an older id than another transaction's S:2.) The statement
 * locks each appended stream's row and checks its version, so a stream
 * changed since it was read fails the commit with `OptimisticLockError`.
 *
 * A read made after a commit is buffered must see that commit; it runs
 * **speculatively**: in a transaction of its own that replays what the
 * unit buffered, runs the read and rolls back, all in one round trip. The
 * buffered statements run for real when the unit ends. A commit that
 * conflicts fails then, or at such a read.
 *
 * The unit is `open` while its work runs, `finishing` while its statements
 * go to the server, and `ended` after.
 *
 * @module
 */
import { CommitOutcomeUnknownError, SequentError } from "../core/errors.ts";
import type { SerializedCommand, StreamCommit } from "../core/event_store.ts";
import type {
  SqlClient,
  SqlCopyRows,
  SqlOptions,
  SqlRow,
  SqlStatement,
  SqlTransaction,
  SqlValue,
} from "./sql_client.ts";
import { SqlError } from "./sql_error.ts";
import { asWithItem, isJoinable, type JoinableStatement } from "./_sql_text.ts";
import type { EventStoreSql } from "./_event_store_sql.ts";
import { TypeDictionary, type TypeIdsJson } from "./_type_dictionary.ts";
import { buildCommit, buildFastCreate } from "./_commit_json.ts";
import { commitError } from "./_store_errors.ts";
import { checkStorableCommit } from "../core/_storable_commit.ts";
import { mapRecordError } from "./sql_record_store.ts";

/** How reads reach the database: directly, or through a unit of work. */
export interface Executor {
  run(text: string, params: readonly SqlValue[]): Promise<SqlRow[]>;
  readonly types: TypeDictionary;
}

/** A buffered read-model write. */
interface Write {
  readonly statement: SqlStatement;
  readonly onRows: (rows: SqlRow[]) => void;
}

/** One `commit()` of the unit. */
interface Commit {
  readonly command: SerializedCommand;
  readonly streams: readonly StreamCommit[];
}

/** The states of a unit; see the module documentation. */
export type UnitState = "open" | "finishing" | "ended";

/** Tells the adapter to roll a transaction back. */
class RollbackSignal extends Error {
  constructor() {
    super("The unit of work is rolled back");
  }
}

/**
 * A plain create followed by one-row read-model INSERTs only (a create
 * command with its projection): one statement, the INSERTs joining the
 * create as data-modifying `WITH` items. They write other tables and read
 * nothing, so running them in one statement is running them in one
 * transaction, without BEGIN and COMMIT.
 */
function joined(
  head: SqlStatement,
  writes: readonly Write[],
): SqlStatement | undefined {
  if (writes.length === 0 || !writes.every((w) => isJoinable(w.statement))) {
    return undefined;
  }
  const first = head.params ?? [];
  let total = first.length;
  for (const w of writes) total += w.statement.params?.length ?? 0;
  const params: SqlValue[] = new Array(total);
  let n = 0;
  for (let i = 0; i < first.length; i++) params[n++] = first[i] as SqlValue;
  let key = "";
  for (const w of writes) {
    const statement = w.statement as JoinableStatement;
    key += (key === "" ? "" : "\0") + statement[asWithItem](n);
    const own = statement.params ?? [];
    for (let i = 0; i < own.length; i++) params[n++] = own[i] as SqlValue;
  }
  let texts = joinedTexts.get(head.text);
  if (texts === undefined) {
    if (joinedTexts.size >= 256) joinedTexts.clear();
    joinedTexts.set(head.text, texts = new Map());
  }
  let text = texts.get(key);
  if (text === undefined) {
    const items = key.split("\0").map((item, i) =>
      `sequent_w${i} AS (${item})`
    );
    text = `WITH ${items.join(", ")}, ${head.text.slice(5)}`;
    if (texts.size >= 256) texts.clear();
    texts.set(key, text);
  }
  return { text, params };
}

/**
 * Joined statements' texts, by the create's text and the items' texts:
 * built once, so a command's statement is the same string every time (the
 * driver finds its prepared statement by text, and a string's hash is
 * kept with it). Bounded: an application has a few shapes of commands.
 */
const joinedTexts = new Map<string, Map<string, string>>();

/** The unit's commits as one statement. */
interface CommitStatement {
  readonly statement: SqlStatement;
  /** A plain create (`WITH …`) other one-row INSERTs may join. */
  readonly joinable: boolean;
  /**
   * Receives the statement's rows: the type ids it registered, and the
   * stream position of its last event.
   */
  readonly onRows: (rows: SqlRow[]) => void;
}

/** One unit of work; see the module documentation. */
export class Unit implements Executor {
  readonly #storeTypes: TypeDictionary;
  #types: TypeDictionary | undefined;
  readonly #client: SqlClient;
  readonly #sql: EventStoreSql;
  readonly #schema: string;
  readonly #options: SqlOptions;
  readonly #signal: AbortSignal | undefined;
  #state: UnitState = "open";
  readonly #commits: Commit[] = [];
  readonly #writes: Write[] = [];
  /** The aggregates the commits touch, for naming them in errors. */
  readonly #aggregateIds: string[] = [];

  constructor(
    client: SqlClient,
    sql: EventStoreSql,
    types: TypeDictionary,
    schema: string,
    signal: AbortSignal | undefined,
  ) {
    this.#client = client;
    this.#sql = sql;
    this.#schema = schema;
    this.#storeTypes = types;
    this.#signal = signal;
    this.#options = { signal };
  }

  /** The unit's state. */
  get state(): UnitState {
    return this.#state;
  }

  /**
   * For reads in the unit: also knows the ids the unit's commits registered
   * in a speculative read (they reach the store's cache once committed).
   */
  get types(): TypeDictionary {
    return this.#types ??= new TypeDictionary(this.#storeTypes);
  }

  #check(): void {
    if (this.#state !== "open") {
      throw new SequentError(
        "The unit of work has ended: its transaction can no longer be used",
      );
    }
  }

  /** Whether anything is buffered. */
  get #pending(): boolean {
    return this.#commits.length > 0 || this.#writes.length > 0;
  }

  /** A read: straight to the database, or speculative once something is buffered. */
  async run(text: string, params: readonly SqlValue[]): Promise<SqlRow[]> {
    this.#check();
    try {
      if (!this.#pending) {
        return await this.#client.query(text, params, this.#options);
      }
      return await this.#speculate({ text, params });
    } catch (error) {
      throw this.#error(error);
    }
  }

  /**
   * A statement that may write (raw SQL of a projector): run speculatively
   * for its rows, and buffered to run for real when the unit ends.
   */
  async runKept(text: string, params: readonly SqlValue[]): Promise<SqlRow[]> {
    this.#check();
    try {
      const rows = await this.#speculate({ text, params });
      this.#writes.push({ statement: { text, params }, onRows: () => {} });
      return rows;
    } catch (error) {
      throw this.#error(error);
    }
  }

  /** Buffers a read-model write; it runs after the commits when the unit ends. */
  enqueue(statement: SqlStatement, onRows?: (rows: SqlRow[]) => void): void {
    this.#check();
    this.#writes.push({ statement, onRows: onRows ?? (() => {}) });
  }

  /**
   * Buffers a commit; see the module documentation for when it runs. What
   * is wrong with the commit itself — text no store holds, an id that is
   * not a UUID, a payload that is not one JSON value, a bad number or
   * date — fails here, as in memory (see `EventStoreTransaction.commit`):
   * not when the unit ends, and not by a statement that would store
   * something else (the commit JSON splices payloads as they are).
   */
  commit(command: SerializedCommand, streams: readonly StreamCommit[]): void {
    this.#check();
    checkStorableCommit(command, streams);
    this.#commits.push({ command, streams });
  }

  /** The framework's error for what the unit's statements raised. */
  #error(error: unknown): unknown {
    // Aborted before anything was committed: whatever failed, failed
    // because of the abort.
    if (this.#signal?.aborted) return this.#signal.reason;
    const mapped = commitError(error, this.#aggregateIds);
    return mapped instanceof SqlError && mapped.schema !== this.#schema
      ? mapRecordError(mapped)
      : mapped;
  }

  /**
   * The unit's commits as one statement: a plain create, one
   * `store_commit`, or `store_commits` for several. Only type ids known to
   * be committed go into it: ids seen in a speculative read belong to
   * registrations that were rolled back.
   */
  #commitStatement(
    onRegistered: (ids: TypeIdsJson) => void,
    onPosition: (position: string) => void = () => {},
  ): CommitStatement | undefined {
    const commits = this.#commits;
    if (commits.length === 0) return undefined;
    this.#aggregateIds.length = 0;
    const stored = (rows: SqlRow[]) => {
      const text = rows[0]?.registered;
      if (typeof text !== "string") return;
      const json = JSON.parse(text) as {
        registered: (TypeIdsJson | null)[];
        x: string | null;
        p: string | null;
      };
      for (const ids of json.registered) if (ids) onRegistered(ids);
      if (json.x !== null && json.p !== null) onPosition(`${json.x}:${json.p}`);
    };
    if (commits.length === 1) {
      const { command, streams } = commits[0]!;
      const fast = buildFastCreate(
        command,
        streams,
        this.#storeTypes,
        this.#sql.fastCreate,
      );
      if (fast) {
        this.#aggregateIds.push(fast.aggregateId);
        return {
          statement: { text: fast.text, params: fast.params },
          joinable: fast.text.startsWith("WITH "),
          onRows: (rows) => {
            const last = rows.at(-1);
            if (last) onPosition(`${last.x}:${last.p}`);
          },
        };
      }
    }
    const built = commits.map(({ command, streams }) => {
      const one = buildCommit(command, streams, this.#storeTypes);
      this.#aggregateIds.push(...one.aggregateIds);
      return one.json;
    });
    return {
      statement: {
        text: this.#sql.storeCommits,
        params: [`[${built.join(",")}]`],
      },
      joinable: false,
      onRows: stored,
    };
  }

  /**
   * Runs `read` after what the unit buffered, in a transaction that is
   * then rolled back: one round trip.
   */
  async #speculate(read: SqlStatement): Promise<SqlRow[]> {
    const commit = this.#commitStatement((ids) => this.types.addAll(ids));
    const writes = [...this.#writes];
    let rows: Promise<SqlRow[]> | undefined;
    try {
      await this.#client.transaction((tx) => {
        if (commit) tx.enqueue(commit.statement, commit.onRows);
        for (const w of writes) tx.enqueue(w.statement);
        rows = tx.query(read.text, read.params ?? []);
        rows.catch(() => {});
        // Not waiting for the rows: the ROLLBACK goes out right behind the
        // read, so the whole speculation is one round trip.
        return Promise.reject(new RollbackSignal());
      }, this.#options);
    } catch (error) {
      if (!(error instanceof RollbackSignal)) throw error;
    }
    return await rows!;
  }

  /**
   * Stores what the unit buffered (or, with `rollback`, runs it and rolls
   * back, so its errors show); the store's type cache learns the ids
   * registered.
   */
  async finish(rollback: boolean): Promise<string | undefined> {
    this.#check();
    this.#state = "finishing";
    const registered: TypeIdsJson[] = [];
    let position: string | undefined;
    const commit = this.#commitStatement(
      (ids) => registered.push(ids),
      (p) => position = p,
    );
    const writes = this.#writes.splice(0);
    try {
      if (!commit && writes.length === 0) return undefined;
      let one: SqlStatement | undefined;
      if (!rollback && commit && writes.length === 0) {
        commit.onRows(
          await this.#client.query(
            commit.statement.text,
            commit.statement.params,
            this.#options,
          ),
        );
      } else if (
        !rollback && commit?.joinable &&
        (one = joined(commit.statement, writes))
      ) {
        commit.onRows(
          await this.#client.query(one.text, one.params, this.#options),
        );
      } else {
        await this.#client.transaction(async (tx) => {
          // the commits first: they must be the transaction's first write
          if (commit) tx.enqueue(commit.statement, commit.onRows);
          for (const w of writes) tx.enqueue(w.statement, w.onRows);
          if (rollback) {
            await tx.batch([]);
            throw new RollbackSignal();
          }
        }, this.#options);
      }
    } catch (error) {
      if (rollback && error instanceof RollbackSignal) return;
      if (error instanceof SqlError && error.code === "08007") {
        throw new CommitOutcomeUnknownError(
          this.#commits.flatMap((c) =>
            c.command.commandId === undefined ? [] : [c.command.commandId]
          ),
          { cause: error },
        );
      }
      throw this.#error(error);
    } finally {
      this.#state = "ended";
    }
    if (rollback) return undefined;
    for (const ids of registered) this.#storeTypes.addAll(ids);
    return position;
  }

  /** Ends the unit without storing anything. */
  abort(): Promise<void> {
    this.#state = "ended";
    this.#commits.length = 0;
    this.#writes.length = 0;
    return Promise.resolve();
  }
}

function notInUnit(what: string): Promise<never> {
  return Promise.reject(
    new SequentError(`${what} is not available inside a unit of work`),
  );
}

/**
 * The unit seen as a {@linkcode SqlTransaction}, for the record store:
 * reads go through the unit (seeing its commits), writes are buffered with
 * them.
 */
export class UnitSql implements SqlTransaction {
  readonly #unit: Unit;

  constructor(unit: Unit) {
    this.#unit = unit;
  }

  query<Row = SqlRow>(
    text: string,
    params?: readonly SqlValue[],
  ): Promise<Row[]> {
    return this.#unit.run(text, params ?? []) as Promise<Row[]>;
  }

  async batch(statements: readonly SqlStatement[]): Promise<SqlRow[][]> {
    const results: SqlRow[][] = [];
    for (const s of statements) {
      results.push(await this.#unit.run(s.text, s.params ?? []));
    }
    return results;
  }

  enqueue(statement: SqlStatement, onRows?: (rows: SqlRow[]) => void): void {
    this.#unit.enqueue(statement, onRows);
  }

  /** For `executeSql`: a statement that may write, kept in the unit. */
  queryKept(text: string, params: readonly SqlValue[]): Promise<SqlRow[]> {
    return this.#unit.runKept(text, params);
  }

  execute(_script: string): Promise<void> {
    return notInUnit("execute()");
  }

  copyIn(
    _table: string,
    _columns: readonly string[],
    _rows: SqlCopyRows,
  ): Promise<number> {
    return notInUnit("copyIn()");
  }

  copyOut(
    _query: string,
    _onData: (chunk: Uint8Array) => void,
  ): Promise<number> {
    return notInUnit("copyOut()");
  }

  transaction<T>(_work: (tx: SqlTransaction) => Promise<T>): Promise<T> {
    return notInUnit("A savepoint");
  }
}
