/**
 * The process holding an embedded database serves it to other processes of
 * the same user: it listens on a Unix socket in the data folder (mode 0600)
 * and runs what its clients send on its own {@linkcode SqlClient} (protocol:
 * `_holder_protocol.ts`).
 *
 * A client's transaction is a transaction of that `SqlClient`: it takes the
 * one transaction slot PGlite has, as the holder's own transactions do, so
 * nobody's statements land inside somebody else's transaction. A client
 * that disconnects, however it ends, has its transactions rolled back as
 * soon as the statement running for it (if any) has finished.
 *
 * @module
 */
import { dirname, join, resolve } from "node:path";
import type {
  SqlClient,
  SqlExecutor,
  SqlTransaction,
  SqlValue,
} from "./sql_client.ts";
import {
  bytesFrame,
  type CallOp,
  decodeValue,
  encodeError,
  encodeRow,
  FrameWriter,
  jsonFrame,
  PROTOCOL_VERSION,
  readFrames,
  type Reply,
  type Request,
  type Wire,
  type WireStatement,
} from "./_holder_protocol.ts";
import { MAX_SOCKET_PATH, pathBytes } from "./_folder_lock.ts";

/**
 * The private folders sockets are bound in (`.s-` and 7 hex digits, so
 * that `<folder>/.s-xxxxxxx/s` is exactly as long as the socket's final
 * path, `<folder>/sequent.sock`), and those of earlier versions
 * (`.sequent-` and 8), which a holder that ended while binding left.
 */
const BINDING_FOLDER = /^\.s-[0-9a-f]{7}$|^\.sequent-[0-9a-f]{8}$/;

/** Thrown into a transaction's work to roll it back. */
class RollBack extends Error {}

/** One level of a client's transaction: the transaction or a savepoint. */
interface Level {
  executor: SqlTransaction | undefined;
  /** Ends the level's work: true commits (releases), false rolls back. */
  finish(commit: boolean): void;
  /** Settles when the level has ended. */
  settled: Promise<unknown>;
}

function params(statement: WireStatement): SqlValue[] {
  return statement.params.map(decodeValue) as SqlValue[];
}

/** A client's transaction, on the holder. */
class RemoteTransaction {
  readonly #client: SqlClient;
  readonly #session: Session;
  readonly #ended: () => void;
  readonly #levels: Level[] = [];
  /** The messages of the transaction run one after the other. */
  #chain: Promise<void> = Promise.resolve();
  /** Why the transaction cannot go on (it could not begin, say). */
  #broken: { error: unknown } | undefined;
  #over = false;

  constructor(client: SqlClient, session: Session, ended: () => void) {
    this.#client = client;
    this.#session = session;
    this.#ended = ended;
  }

  /** Runs `step` after the transaction's earlier messages. */
  #then(step: () => Promise<void>): void {
    this.#chain = this.#chain.then(step).catch(() => {});
  }

  get #top(): SqlTransaction {
    if (this.#broken) throw this.#broken.error;
    const top = this.#levels.at(-1)?.executor;
    if (!top || this.#over) throw new Error("The transaction has ended");
    return top;
  }

  /** Opens a level, inside `open`, and waits until its work has started. */
  async #open(
    open: (
      work: (tx: SqlTransaction) => Promise<void>,
    ) => Promise<unknown>,
  ): Promise<void> {
    let started!: () => void;
    const entered = new Promise<void>((resolve) => started = resolve);
    let finish!: (commit: boolean) => void;
    const finished = new Promise<boolean>((resolve) => finish = resolve);
    const level: Level = {
      executor: undefined,
      finish,
      settled: Promise.resolve(),
    };
    level.settled = open(async (tx) => {
      level.executor = tx;
      started();
      if (!(await finished)) throw new RollBack();
    });
    level.settled.catch(() => {});
    await Promise.race([
      entered,
      level.settled.then(() => {
        throw new Error("The transaction ended before it began");
      }),
    ]);
    this.#levels.push(level);
  }

  begin(): void {
    this.#then(async () => {
      if (this.#session.closed) return;
      try {
        await this.#open((work) => this.#client.transaction(work));
      } catch (error) {
        this.#broken = { error };
      }
    });
  }

  savepoint(): void {
    this.#then(async () => {
      if (this.#session.closed || this.#broken) return;
      try {
        const top = this.#top;
        await this.#open((work) => top.transaction(work));
      } catch (error) {
        this.#broken ??= { error };
      }
    });
  }

  release(): void {
    this.#then(async () => {
      if (this.#session.closed || this.#broken) return;
      const level = this.#levels.length > 1 ? this.#levels.pop() : undefined;
      if (!level) return;
      level.finish(true);
      try {
        await level.settled;
      } catch (error) {
        this.#broken = { error };
      }
    });
  }

  enqueue(statement: WireStatement, id: number | undefined): void {
    this.#then(() => {
      if (this.#session.closed) return Promise.resolve();
      try {
        this.#top.enqueue(
          { text: statement.text, params: params(statement) },
          id === undefined ? undefined : (rows) =>
            this.#session.send({
              t: "rows",
              id,
              rows: rows.map(encodeRow),
            }),
        );
      } catch {
        // the next call reports why the transaction cannot go on
      }
      return Promise.resolve();
    });
  }

  /** Runs a call of the transaction, in turn; answers it. */
  call(id: number, op: CallOp, rows: Wire[][] | undefined): void {
    this.#then(async () => {
      if (this.#session.closed) {
        // gone before its end was run: roll back
        if (op.op === "end") await this.#end(false).catch(() => {});
        return;
      }
      try {
        const result = op.op === "end"
          ? await this.#end(op.commit)
          : op.op === "rollbackTo"
          ? await this.#rollbackTo()
          : await runCall(this.#top, op, rows, id, this.#session);
        this.#session.send({ t: "done", id, result });
      } catch (error) {
        this.#session.send({ t: "fail", id, error: encodeError(error) });
      }
    });
  }

  async #rollbackTo(): Promise<Wire> {
    if (this.#broken) throw this.#broken.error;
    const level = this.#levels.length > 1 ? this.#levels.pop() : undefined;
    if (!level) throw new Error("No savepoint to roll back to");
    level.finish(false);
    try {
      await level.settled;
    } catch (error) {
      if (!(error instanceof RollBack)) throw error;
    }
    return null;
  }

  /** Ends the transaction: inner levels roll back, then the outer one ends. */
  async #end(commit: boolean): Promise<Wire> {
    if (this.#over) throw new Error("The transaction has ended");
    this.#over = true;
    this.#ended();
    const outer = this.#levels[0];
    let failure = this.#broken;
    while (this.#levels.length > 1) {
      // a savepoint still open (its work did not end first): no commit
      const level = this.#levels.pop()!;
      level.finish(false);
      await level.settled.catch(() => {});
      failure ??= {
        error: new Error("The transaction ended inside a savepoint"),
      };
    }
    this.#levels.pop();
    if (outer) {
      outer.finish(commit && !failure);
      try {
        await outer.settled;
      } catch (error) {
        if (!(error instanceof RollBack)) throw error;
      }
    }
    if (commit && failure) throw failure.error;
    return null;
  }

  /** After the client is gone: rolls back once the running step is done. */
  abandon(): Promise<void> {
    this.#then(async () => {
      if (!this.#over) await this.#end(false).catch(() => {});
    });
    return this.#chain;
  }
}

async function runCall(
  executor: SqlExecutor,
  op: CallOp,
  rows: Wire[][] | undefined,
  id: number,
  session: Session,
): Promise<Wire> {
  switch (op.op) {
    case "query":
      return (await executor.query(op.statement.text, params(op.statement)))
        .map(encodeRow);
    case "batch":
      return (await executor.batch(
        op.statements.map((s) => ({ text: s.text, params: params(s) })),
      )).map((result) => result.map(encodeRow));
    case "execute":
      await executor.execute(op.script);
      return null;
    case "copyIn": {
      const received = rows ?? [];
      const abort = op.abort;
      return await executor.copyIn(
        op.table,
        op.columns,
        (function* () {
          for (const row of received) yield row.map(decodeValue) as SqlValue[];
          if (abort !== undefined) throw new Error(abort);
        })(),
      );
    }
    case "copyOut":
      return await executor.copyOut(
        op.query,
        (chunk) => session.sendBytes(id, chunk),
      );
    default:
      throw new Error(`Call "${op.op}" needs a transaction`);
  }
}

/** One client's connection. */
class Session {
  readonly #conn: Deno.Conn;
  readonly #client: SqlClient;
  readonly #writer: FrameWriter;
  readonly #transactions = new Map<number, RemoteTransaction>();
  readonly #copyRows = new Map<number, Wire[][]>();
  #greeted = false;
  closed = false;

  constructor(conn: Deno.Conn, client: SqlClient) {
    this.#conn = conn;
    this.#client = client;
    this.#writer = new FrameWriter(conn);
  }

  send(reply: Reply): void {
    if (this.closed) return;
    let frame: Uint8Array;
    try {
      frame = jsonFrame(reply);
    } catch (error) {
      // too large a result: the call fails, the connection goes on
      if (reply.t !== "done") throw error;
      frame = jsonFrame({ t: "fail", id: reply.id, error: encodeError(error) });
    }
    this.#writer.send(frame);
  }

  sendBytes(id: number, bytes: Uint8Array): void {
    if (!this.closed) this.#writer.send(bytesFrame(id, bytes));
  }

  /** Serves the connection until it ends; then rolls back what is open. */
  async serve(): Promise<void> {
    try {
      for await (const frame of readFrames(this.#conn)) {
        if (frame.kind !== "json") throw new Error("Unexpected bytes");
        this.#receive(frame.message as Request);
      }
    } catch {
      // a broken or foreign peer: drop it like one that left
    } finally {
      this.close();
      await Promise.all(
        [...this.#transactions.values()].map((tx) => tx.abandon()),
      );
      this.#transactions.clear();
      this.#copyRows.clear();
    }
  }

  /** Ends the connection (the holder closes, or the client left). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
  }

  #receive(message: Request): void {
    if (!this.#greeted) {
      if (message.t !== "hello") throw new Error("No hello");
      this.#greeted = true;
      this.send({ t: "hello", v: PROTOCOL_VERSION, pid: Deno.pid });
      if (message.v !== PROTOCOL_VERSION) this.close();
      return;
    }
    switch (message.t) {
      case "copyRows": {
        const rows = this.#copyRows.get(message.id);
        if (rows) rows.push(...message.rows);
        else this.#copyRows.set(message.id, [...message.rows]);
        return;
      }
      case "begin": {
        const tx = new RemoteTransaction(
          this.#client,
          this,
          () => this.#transactions.delete(message.tx),
        );
        this.#transactions.set(message.tx, tx);
        tx.begin();
        return;
      }
      case "enqueue":
        this.#transactions.get(message.tx)?.enqueue(
          message.statement,
          message.id,
        );
        return;
      case "savepoint":
        this.#transactions.get(message.tx)?.savepoint();
        return;
      case "release":
        this.#transactions.get(message.tx)?.release();
        return;
      case "call": {
        const rows = this.#copyRows.get(message.id);
        this.#copyRows.delete(message.id);
        if (message.tx !== undefined) {
          const tx = this.#transactions.get(message.tx);
          if (tx) tx.call(message.id, message, rows);
          else {
            this.send({
              t: "fail",
              id: message.id,
              error: encodeError(new Error("The transaction has ended")),
            });
          }
          return;
        }
        runCall(this.#client, message, rows, message.id, this).then(
          (result) => this.send({ t: "done", id: message.id, result }),
          (error: unknown) =>
            this.send({ t: "fail", id: message.id, error: encodeError(error) }),
        );
        return;
      }
      default:
        throw new Error("Unknown message");
    }
  }
}

/** Serves a database on a Unix socket until closed. */
export class HolderServer {
  readonly #listener: Deno.UnixListener;
  readonly #path: string;
  readonly #sessions = new Set<Promise<void>>();
  readonly #live = new Set<Session>();
  readonly #accepting: Promise<void>;

  private constructor(
    listener: Deno.UnixListener,
    path: string,
    client: SqlClient,
  ) {
    this.#listener = listener;
    this.#path = path;
    this.#accepting = this.#accept(client);
  }

  /**
   * Listens on `path` (replacing a stale socket file of a holder that
   * ended without closing). The socket is bound in a private folder and
   * moved into place, so it is never reachable with wider permissions
   * than 0600; the path it is bound at is no longer than `path`, so any
   * `path` a socket may have is served.
   *
   * @throws {Error} when `path` is longer than a socket's may be, or the
   *   socket cannot be set up.
   */
  static async listen(
    client: SqlClient,
    dataDir: string,
    path: string,
  ): Promise<HolderServer> {
    const bytes = pathBytes(path);
    if (bytes > MAX_SOCKET_PATH) {
      throw new Error(
        `its socket's path, ${path}, is ${bytes} bytes: longer than the ${MAX_SOCKET_PATH} bytes a Unix socket's path may have`,
      );
    }
    await Deno.remove(path).catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    });
    for await (const entry of Deno.readDir(dataDir)) {
      if (BINDING_FOLDER.test(entry.name)) {
        await Deno.remove(join(dataDir, entry.name), { recursive: true })
          .catch(() => {});
      }
    }
    const hidden = join(
      dirname(path),
      `.s-${crypto.randomUUID().slice(0, 7)}`,
    );
    await Deno.mkdir(hidden, { mode: 0o700 });
    try {
      const bound = join(hidden, "s");
      const listener = Deno.listen({ transport: "unix", path: bound });
      try {
        await Deno.chmod(bound, 0o600);
        await Deno.rename(bound, path);
      } catch (error) {
        listener.close();
        throw error;
      }
      // removed when closed, even if the working directory changed
      return new HolderServer(listener, resolve(path), client);
    } finally {
      await Deno.remove(hidden, { recursive: true }).catch(() => {});
    }
  }

  async #accept(client: SqlClient): Promise<void> {
    try {
      for await (const conn of this.#listener) {
        const session = new Session(conn, client);
        this.#live.add(session);
        const served = session.serve().finally(() => {
          this.#live.delete(session);
          this.#sessions.delete(served);
        });
        this.#sessions.add(served);
      }
    } catch {
      // the listener was closed
    }
  }

  /**
   * Stops listening, disconnects every client (rolling back their open
   * transactions) and removes the socket file.
   */
  async close(): Promise<void> {
    try {
      this.#listener.close();
    } catch {
      // already closed
    }
    await this.#accepting;
    for (const session of this.#live) session.close();
    await Promise.all([...this.#sessions]);
    await Deno.remove(this.#path).catch(() => {});
  }
}
