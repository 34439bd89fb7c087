/**
 * A pool of {@linkcode WireConnection}s that heals by itself: a connection
 * that fails is dropped the moment it fails, and the next caller gets a
 * fresh one. Nothing is retried behind the caller's back and nothing waits
 * for a server that refuses: while the server is down, each caller gets
 * the connection error at once; once it is back, the next caller gets a
 * working connection.
 *
 * The pool is `open` until {@linkcode WirePool.close}, then `closing`
 * (waiting for connections in use to be released) and `closed`.
 *
 * @module
 */
import { checkMilliseconds } from "../_timer_option.ts";
import { type ConnectionConfig, Lost, WireConnection } from "./connection.ts";

/** The states of a pool. */
export type PoolState = "open" | "closing" | "closed";

/** How the pool sizes itself. */
export interface PoolOptions {
  /** Most connections open at once: a whole number, at least 1. */
  readonly max: number;
  /** Milliseconds an idle connection is kept (0: for ever). */
  readonly idleTimeoutMs: number;
}

interface Waiter {
  readonly resolve: (connection: WireConnection) => void;
  readonly reject: (error: unknown) => void;
  readonly signal: AbortSignal | undefined;
  readonly onAbort: (() => void) | undefined;
}

/** A pool of connections to one database. */
export class WirePool {
  readonly #config: ConnectionConfig;
  readonly #options: PoolOptions;
  #state: PoolState = "open";
  /** Every connection open or opening, in use or idle. */
  #size = 0;
  /** Idle connections, the longest idle first (reused from the end). */
  readonly #idle: WireConnection[] = [];
  /** When each of `#idle` was released (`performance.now()`), in step. */
  readonly #idleSince: number[] = [];
  /**
   * The one timer that closes connections idle for `idleTimeoutMs`, due
   * when the longest idle one is; set while any is idle. (A timer per
   * release, cleared at the next acquire, cost some 4 µs of CPU a
   * statement.)
   */
  #sweep: ReturnType<typeof setTimeout> | undefined;
  readonly #inUse = new Set<WireConnection>();
  readonly #waiters: Waiter[] = [];
  #closed: (() => void) | undefined;

  /**
   * @param config Where to connect.
   * @param options Pool size and idle time.
   * @throws {TypeError} naming the option, for a `max` that is not a whole
   *   number of at least 1 (with none, every caller would wait for ever),
   *   or an `idleTimeoutMs` that is negative, not a number or longer than a
   *   timer takes.
   */
  constructor(config: ConnectionConfig, options: PoolOptions) {
    if (!(Number.isInteger(options.max) && options.max >= 1)) {
      throw new TypeError(
        `The pool option max must be a whole number of connections, at least 1, not ${
          String(options.max)
        }`,
      );
    }
    checkMilliseconds("pool option idleTimeoutMs", options.idleTimeoutMs, 0);
    this.#config = config;
    this.#options = options;
  }

  /** The pool's state. */
  get state(): PoolState {
    return this.#state;
  }

  /** Connections open or opening. */
  get size(): number {
    return this.#size;
  }

  /**
   * A connection for the caller's exclusive use until
   * {@linkcode WirePool.release}. An idle one if there is one; otherwise a
   * new one while the pool is below `max`; otherwise the next one
   * released. Rejects with the connection error when opening fails, and
   * with the signal's reason when aborted while waiting.
   */
  acquire(signal?: AbortSignal): Promise<WireConnection> {
    if (this.#state !== "open") {
      return Promise.reject(
        new Lost("the pool is closed", "POOL_CLOSED", false),
      );
    }
    if (signal?.aborted) return Promise.reject(signal.reason);
    const idle = this.takeIdle();
    if (idle) return Promise.resolve(idle);
    if (this.#size < this.#options.max) return this.#open(signal);
    return new Promise<WireConnection>((resolve, reject) => {
      const onAbort = signal
        ? () => {
          const at = this.#waiters.indexOf(waiter);
          if (at >= 0) this.#waiters.splice(at, 1);
          reject(signal.reason);
        }
        : undefined;
      const waiter: Waiter = { resolve, reject, signal, onAbort };
      if (onAbort) signal!.addEventListener("abort", onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  /**
   * An idle connection for the caller's exclusive use until
   * {@linkcode WirePool.release}, when one is ready: the part of
   * {@linkcode WirePool.acquire} that needs no waiting, for callers that
   * can skip a promise when it succeeds. `undefined` when none is idle, or
   * when the pool is not open.
   */
  takeIdle(): WireConnection | undefined {
    if (this.#state !== "open") return undefined;
    while (this.#idle.length > 0) {
      const connection = this.#idle.pop()!;
      this.#idleSince.pop();
      if (connection.state === "ready" && !connection.busy) {
        this.#inUse.add(connection);
        return connection;
      }
      connection.destroy(new Lost("dropped from the pool", "DROPPED", false));
    }
    return undefined;
  }

  #open(signal: AbortSignal | undefined): Promise<WireConnection> {
    this.#size++;
    return WireConnection.open(
      this.#config,
      (connection) => this.#dropped(connection),
      signal,
    ).then(
      (connection) => {
        if (connection.closed) {
          // closed since it opened: #dropped has counted it out already
          const lost = connection.closeReason;
          throw new Lost(
            lost?.message ?? "the connection closed as it opened",
            lost?.code ?? "CLOSED",
            false,
            { cause: lost },
          );
        }
        this.#inUse.add(connection);
        return connection;
      },
      (error: unknown) => {
        this.#size--;
        this.#serveWaiters();
        throw error;
      },
    );
  }

  /**
   * Gives a connection back. One that is closed, still busy, inside a
   * transaction, or that sent a cancel request is not reused.
   */
  release(connection: WireConnection): void {
    if (!this.#inUse.delete(connection)) return;
    if (!(this.#state === "open" && connection.reusable)) {
      if (connection.closed) {
        // Closed, yet still counted in use: its close never reached
        // #dropped (destroy() would do nothing now). Count it out here, or
        // its place in the pool is lost for good.
        this.#dropped(connection);
        return;
      }
      connection.destroy(
        new Lost("not reusable when released", "DROPPED", false),
      );
      return; // #dropped serves the waiters
    }
    const waiter = this.#nextWaiter();
    if (waiter) {
      this.#inUse.add(connection);
      waiter.resolve(connection);
      return;
    }
    this.#idle.push(connection);
    this.#idleSince.push(performance.now());
    if (this.#sweep === undefined && this.#options.idleTimeoutMs > 0) {
      this.#sweepIn(this.#options.idleTimeoutMs);
    }
  }

  #sweepIn(ms: number): void {
    this.#sweep = setTimeout(() => {
      this.#sweep = undefined;
      const timeout = this.#options.idleTimeoutMs;
      const now = performance.now();
      let expired = 0;
      while (
        expired < this.#idle.length &&
        now - this.#idleSince[expired]! >= timeout
      ) expired++;
      this.#idleSince.splice(0, expired);
      for (const connection of this.#idle.splice(0, expired)) {
        connection.close().catch(() => {});
      }
      if (this.#idle.length > 0) {
        this.#sweepIn(Math.max(0, this.#idleSince[0]! + timeout - now));
      }
    }, ms);
    // An idle connection's socket keeps the process alive, and the timer
    // fires while it does; once none is left, the timer (until due) must
    // not keep the process waiting.
    Deno.unrefTimer(this.#sweep);
  }

  #nextWaiter(): Waiter | undefined {
    const waiter = this.#waiters.shift();
    if (waiter?.onAbort) {
      waiter.signal!.removeEventListener("abort", waiter.onAbort);
    }
    return waiter;
  }

  /** A connection closed (failed, timed out, or dropped): forget it. */
  #dropped(connection: WireConnection): void {
    this.#size--;
    this.#inUse.delete(connection);
    const at = this.#idle.indexOf(connection);
    if (at >= 0) {
      this.#idle.splice(at, 1);
      this.#idleSince.splice(at, 1);
    }
    this.#serveWaiters();
  }

  /** Opens connections for waiters while there is room. */
  #serveWaiters(): void {
    if (this.#state !== "open") {
      if (this.#state === "closing" && this.#size === 0) this.#finish();
      return;
    }
    while (this.#waiters.length > 0 && this.#size < this.#options.max) {
      const waiter = this.#nextWaiter()!;
      this.#open(waiter.signal).then(waiter.resolve, waiter.reject);
    }
  }

  #finish(): void {
    this.#state = "closed";
    this.#closed?.();
  }

  /**
   * Closes the pool: waiters are rejected, idle connections closed, and
   * connections in use closed once released (or after `graceMs`).
   */
  async close(graceMs = 5000): Promise<void> {
    if (this.#state !== "open") return;
    this.#state = "closing";
    for (const waiter of this.#waiters.splice(0)) {
      if (waiter.onAbort) {
        waiter.signal!.removeEventListener("abort", waiter.onAbort);
      }
      waiter.reject(new Lost("the pool is closed", "POOL_CLOSED", false));
    }
    const done = new Promise<void>((resolve) => {
      this.#closed = resolve;
    });
    clearTimeout(this.#sweep);
    this.#sweep = undefined;
    this.#idleSince.length = 0;
    for (const connection of this.#idle.splice(0)) {
      connection.close().catch(() => {});
    }
    if (this.#size === 0) this.#finish();
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      done,
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, graceMs);
      }),
    ]);
    clearTimeout(timer);
    for (const connection of [...this.#inUse]) {
      connection.destroy(new Lost("the pool is closed", "POOL_CLOSED", true));
    }
    this.#state = "closed";
  }
}
