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
   * Goes away: stops listening and closes the connections it accepted, so
   * that attempts still under way fail, and end.
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
      for (const conn of accepted) conn.close();
    },
  };
}

/** A `nats-server -js` of a test's own that can be made to hang. */
export interface HangingNats {
  readonly url: string;
  /** Stops it (SIGSTOP): its connections stay open, and nothing answers. */
  hang(): void;
  /** Lets it go on (SIGCONT) with what its connections sent meanwhile. */
  resume(): void;
  /** Kills it and deletes its store. */
  dispose(): Promise<void>;
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
    hang: () => child.kill("SIGSTOP"),
    resume: () => child.kill("SIGCONT"),
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
