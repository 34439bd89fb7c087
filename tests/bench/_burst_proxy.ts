/**
 * A TCP proxy on the loopback interface that hands the client each of the
 * server's answers in one write: it holds the server's bytes until they
 * end with a whole message that waits for the client (ReadyForQuery, or an
 * authentication request). So how the client's socket reads split an
 * answer no longer depends on the machine's load.
 */

/** A running proxy. */
export interface BurstProxy {
  /** The port it listens on (127.0.0.1). */
  readonly port: number;
  /** Stops listening and closes every connection. */
  close(): Promise<void>;
}

/** Whether `bytes` are whole messages, the last one of type `Z` or `R`. */
function endsAnAnswer(bytes: Uint8Array): boolean {
  let at = 0;
  let last = 0;
  while (at + 5 <= bytes.length) {
    const length = new DataView(bytes.buffer, bytes.byteOffset + at + 1, 4)
      .getInt32(0);
    if (at + 1 + length > bytes.length) return false;
    last = bytes[at]!;
    at += 1 + length;
  }
  return at === bytes.length &&
    (last === "Z".charCodeAt(0) || last === "R".charCodeAt(0));
}

async function pipe(
  from: Deno.Conn,
  to: Deno.Conn,
  burst: boolean,
): Promise<void> {
  const buffer = new Uint8Array(65536);
  let held = new Uint8Array(0);
  try {
    for (;;) {
      const n = await from.read(buffer);
      if (n === null) break;
      if (!burst) {
        await to.write(buffer.slice(0, n));
        continue;
      }
      const next = new Uint8Array(held.length + n);
      next.set(held);
      next.set(buffer.subarray(0, n), held.length);
      held = next;
      if (endsAnAnswer(held)) {
        for (let at = 0; at < held.length;) {
          at += await to.write(held.subarray(at));
        }
        held = new Uint8Array(0);
      }
    }
  } catch {
    // a side closed: the other is closed below
  } finally {
    try {
      to.close();
    } catch {
      // already closed
    }
  }
}

/** Starts a proxy to `hostname:port`. */
export function burstProxy(hostname: string, port: number): BurstProxy {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const pipes: Promise<void>[] = [];
  const conns = new Set<Deno.Conn>();
  const accepting = (async () => {
    try {
      for await (const client of listener) {
        const server = await Deno.connect({ hostname, port });
        conns.add(client);
        conns.add(server);
        pipes.push(pipe(client, server, false), pipe(server, client, true));
      }
    } catch {
      // the listener was closed
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    async close() {
      listener.close();
      await accepting;
      for (const conn of conns) {
        try {
          conn.close();
        } catch {
          // already closed by its pipe
        }
      }
      await Promise.all(pipes);
    },
  };
}
