/**
 * Helpers of outbox_relay_test.ts's tests of stop(): a loopback port
 * nothing listens on, a broker that accepts connections and never
 * answers, a private JetStream server that can be made to hang (SIGSTOP)
 * and go on (SIGCONT), and a processor store that holds the relay at one
 * step of its work until the test lets it go on.
 */
import type { EventBatch, ProcessorStore } from "@sequent/core/internal";

/** A loopback port nothing listens on. */
export function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** A broker that accepts connections and says nothing, as one that hangs. */
export interface SilentBroker {
  /** Where it listens. */
  readonly url: string;
  /** Resolves at the first connection accepted. */
  readonly reached: Promise<void>;
  /**
   * Goes away: stops listening and ends the connections it accepted, so
   * that attempts still under way fail, and end; resolves once the clients
   * have closed their ends (within 5 s per connection).
   */
  close(): Promise<void>;
}

/** Starts a {@linkcode SilentBroker} on a free loopback port. */
export function silentBroker(): SilentBroker {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted: Deno.Conn[] = [];
  let reach: () => void = () => {};
  const reached = new Promise<void>((r) => reach = r);
  const accepting = (async () => {
    for await (const conn of listener) {
      accepted.push(conn);
      reach();
    }
  })();
  return {
    url: `127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    reached,
    async close() {
      listener.close();
      await accepting.catch(() => {});
      await Promise.all(accepted.map(async (conn) => {
        // the client reads the end, gives the attempt up and closes its
        // side: the read here ends then, not before
        const timer = setTimeout(() => conn.close(), 5_000);
        try {
          await conn.closeWrite();
          const buffer = new Uint8Array(1_024);
          while (await conn.read(buffer) !== null) {
            // what the client sent: dropped
          }
        } catch {
          // closed by the timer, or reset by the client
        } finally {
          clearTimeout(timer);
          try {
            conn.close();
          } catch {
            // closed by the timer
          }
        }
      }));
    },
  };
}

/** A `nats-server -js` of a test's own that can be made to hang. */
export interface HangingNats {
  readonly url: string;
  /**
   * Stops it (SIGSTOP): its connections stay open, and nothing answers.
   * Resolves once every one of its threads has stopped: a signal takes
   * effect when the process next runs, and until then (longer on a busy
   * machine) it can still answer what reaches it.
   */
  hang(): Promise<void>;
  /** Lets it go on (SIGCONT) with what its connections sent meanwhile. */
  resume(): void;
  /**
   * The bytes its clients' connections have delivered to it and it has
   * not read: while it hangs, what they sent it since (Linux: read from
   * `/proc/net/tcp`, which the kernel keeps whatever the process does).
   */
  unread(): Promise<number>;
  /** Kills it and deletes its store. */
  dispose(): Promise<void>;
}

/** Whether every thread of process `pid` is stopped (Linux `/proc`). */
async function stopped(pid: number): Promise<boolean> {
  const tasks = `/proc/${pid}/task`;
  let threads = 0;
  for await (const task of Deno.readDir(tasks)) {
    let stat: string;
    try {
      stat = await Deno.readTextFile(`${tasks}/${task.name}/stat`);
    } catch {
      continue; // a thread that ended
    }
    // "tid (comm) state …": comm may hold spaces and parentheses
    if (stat[stat.lastIndexOf(")") + 2] !== "T") return false;
    threads++;
  }
  return threads > 0;
}

/**
 * The bytes received and not read yet on the established TCP connections
 * whose local end is 127.0.0.1:`port` (Linux `/proc/net/tcp`).
 */
async function unreadOn(port: number): Promise<number> {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  let unread = 0;
  for (const line of (await Deno.readTextFile("/proc/net/tcp")).split("\n")) {
    // sl local_address rem_address st tx_queue:rx_queue …
    const [, address, , state, queues] = line.trim().split(/\s+/);
    if (address !== local || state !== "01" || !queues) continue;
    unread += parseInt(queues.split(":")[1]!, 16);
  }
  return unread;
}

/** Starts a {@linkcode HangingNats} on a free loopback port. */
export async function startHangingNats(): Promise<HangingNats> {
  const dir = await Deno.makeTempDir({ prefix: "sequent-nats-" });
  const port = closedPort();
  const child = new Deno.Command("nats-server", {
    args: ["-js", "-a", "127.0.0.1", "-p", String(port), "-sd", dir],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const dispose = async () => {
    try {
      child.kill("SIGKILL");
    } catch {
      // gone already
    }
    await child.status;
    await Deno.remove(dir, { recursive: true });
  };
  const end = performance.now() + 10_000;
  for (;;) {
    try {
      const c = await Deno.connect({ hostname: "127.0.0.1", port });
      c.close();
      break;
    } catch {
      if (performance.now() > end) {
        await dispose();
        throw new Error(`nats-server did not start on port ${port}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    url: `127.0.0.1:${port}`,
    async hang() {
      child.kill("SIGSTOP");
      const end = performance.now() + 10_000;
      while (!(await stopped(child.pid))) {
        if (performance.now() > end) {
          throw new Error(`nats-server (pid ${child.pid}) did not stop`);
        }
        await new Promise((r) => setTimeout(r, 5));
      }
    },
    resume: () => child.kill("SIGCONT"),
    unread: () => unreadOn(port),
    dispose,
  };
}

/**
 * Where a {@linkcode Holding} store can hold the relay: right after it
 * claimed its partitions (it reads the stream's last messages next), or
 * right after a read that found events (it publishes them next).
 */
export type HoldPoint = "claimed" | "read";

/** A processor store that holds the relay at a {@linkcode HoldPoint}. */
export interface Holding {
  /** The store to give the relay. */
  readonly processors: ProcessorStore;
  /**
   * Holds the relay the next time it reaches `point`; resolves when it
   * does.
   */
  arm(point: HoldPoint): Promise<void>;
  /** Lets a held relay go on (and disarms). */
  release(): void;
}

/** `inner`, with some of its members replaced, the others bound to it. */
function over<T extends object>(inner: T, changes: Partial<T>): T {
  const replaced: Partial<Record<PropertyKey, unknown>> = changes;
  return new Proxy(inner, {
    get(target, key) {
      if (Object.hasOwn(replaced, key)) return replaced[key];
      const value: unknown = Reflect.get(target, key);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** `inner`, able to hold the relay at a {@linkcode HoldPoint}. */
export function holding(inner: ProcessorStore): Holding {
  let armed: HoldPoint | undefined;
  let reach: () => void = () => {};
  let release: () => void = () => {};
  let released: Promise<void> = Promise.resolve();
  const hold = async (point: HoldPoint) => {
    if (armed !== point) return;
    armed = undefined;
    reach();
    await released;
  };
  const reader = over(inner.reader, {
    readEvents: async (after, options): Promise<EventBatch> => {
      const batch = await inner.reader.readEvents(after, options);
      if (batch.events.length > 0) await hold("read");
      return batch;
    },
  });
  return {
    processors: over(inner, {
      reader,
      claimPartitions: async (name, owner, partitions, ttlMs) => {
        const lease = await inner.claimPartitions(
          name,
          owner,
          partitions,
          ttlMs,
        );
        await hold("claimed");
        return lease;
      },
    }),
    arm(point) {
      armed = point;
      released = new Promise<void>((r) => release = r);
      return new Promise<void>((r) => reach = r);
    },
    release() {
      armed = undefined;
      release();
    },
  };
}
