/**
 * A TCP proxy on the loopback interface that delays every chunk by a fixed
 * time in each direction, so that round trips to the server become
 * measurable: a unit of work taking about N × 2 × delay made N round trips.
 */

/** A running proxy. */
export interface LatencyProxy {
  /** The port it listens on (127.0.0.1). */
  readonly port: number;
  /** Stops listening and closes every connection. */
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

async function pipe(
  from: Deno.Conn,
  to: Deno.Conn,
  delayMs: number,
): Promise<void> {
  const queue: { due: number; chunk: Uint8Array }[] = [];
  let wake: (() => void) | undefined;
  let ended = false;
  const reader = (async () => {
    const buffer = new Uint8Array(65536);
    try {
      for (;;) {
        const n = await from.read(buffer);
        if (n === null) break;
        queue.push({
          due: performance.now() + delayMs,
          chunk: buffer.slice(0, n),
        });
        wake?.();
      }
    } catch {
      // closed
    }
    ended = true;
    wake?.();
  })();
  try {
    for (;;) {
      const next = queue.shift();
      if (!next) {
        if (ended) break;
        await new Promise<void>((r) => wake = r);
        wake = undefined;
        continue;
      }
      // Wait a few more milliseconds for what follows closely (a server
      // answers a pipeline in several packets) and send it all in one
      // write: separate small writes meet Nagle's algorithm and delayed
      // ACKs, adding 40 ms stalls that are not round trips.
      await sleep(Math.max(0, next.due + 3 - performance.now()));
      const parts = [next.chunk];
      while (queue[0] && queue[0].due <= performance.now()) {
        parts.push(queue.shift()!.chunk);
      }
      const data = parts.length === 1 ? next.chunk : concat(parts);
      let written = 0;
      while (written < data.length) {
        written += await to.write(data.subarray(written));
      }
    }
  } catch {
    // closed
  }
  await reader;
  try {
    to.close();
  } catch {
    // already closed
  }
}

/** Starts a proxy to `port` on 127.0.0.1 adding `delayMs` each way. */
export function latencyProxy(
  targetPort: number,
  delayMs: number,
): LatencyProxy {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const tasks: Promise<unknown>[] = [];
  const accepting = (async () => {
    try {
      for await (const client of listener) {
        const server = await Deno.connect({
          hostname: "127.0.0.1",
          port: targetPort,
        });
        conns.add(client);
        conns.add(server);
        tasks.push(
          pipe(client, server, delayMs),
          pipe(server, client, delayMs),
        );
      }
    } catch {
      // listener closed
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    async close() {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch {
          // already closed
        }
      }
      await accepting;
      await Promise.allSettled(tasks);
    },
  };
}
