/**
 * A TCP proxy on the loopback interface that can stall: while frozen it
 * keeps every connection open and accepts new ones, but forwards nothing
 * in either direction, as a network that drops packets does; thawed, it
 * forwards what it held (TCP would retransmit it), so a statement sent
 * before the stall may still reach the server after it.
 */
import { within } from "../_within.ts";

/** A running proxy. */
export interface StallProxy {
  /** The port it listens on (127.0.0.1). */
  readonly port: number;
  /** Stops forwarding (connections stay open). */
  freeze(): void;
  /** Forwards again, including what it held. */
  thaw(): void;
  /** Stops listening and closes every connection. */
  close(): Promise<void>;
}

/**
 * Starts a proxy to `127.0.0.1:targetPort`.
 *
 * @param targetPort The server's port.
 */
export function startStallProxy(targetPort: number): StallProxy {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const pumps = new Set<Promise<void>>();
  let frozen = false;
  let thawed: Promise<void> = Promise.resolve();
  let release: (() => void) | undefined;

  const pipe = async (from: Deno.Conn, to: Deno.Conn) => {
    const buffer = new Uint8Array(65536);
    try {
      for (;;) {
        const n = await from.read(buffer);
        if (n === null) break;
        const chunk = buffer.slice(0, n);
        while (frozen) await thawed;
        let at = 0;
        while (at < chunk.length) at += await to.write(chunk.subarray(at));
      }
    } catch {
      // either side closed
    }
    for (const c of [from, to]) {
      try {
        c.close();
      } catch {
        // already closed
      }
      conns.delete(c);
    }
  };

  const accepting = (async () => {
    for await (const client of listener) {
      let server: Deno.Conn;
      try {
        server = await Deno.connect({
          hostname: "127.0.0.1",
          port: targetPort,
        });
      } catch {
        client.close();
        continue;
      }
      conns.add(client);
      conns.add(server);
      for (const p of [pipe(client, server), pipe(server, client)]) {
        pumps.add(p);
        p.finally(() => pumps.delete(p));
      }
    }
  })().catch(() => {});

  return {
    port: (listener.addr as Deno.NetAddr).port,
    freeze() {
      if (frozen) return;
      frozen = true;
      thawed = new Promise((resolve) => release = resolve);
    },
    thaw() {
      frozen = false;
      release?.();
    },
    async close() {
      this.thaw();
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch {
          // already closed
        }
      }
      await accepting;
      await Promise.all(pumps);
    },
  };
}

/**
 * A proxy in front of the PostgreSQL server of `serverUrl`, and that URL
 * through the proxy.
 */
export function stallProxyFor(
  serverUrl: string,
): { readonly proxy: StallProxy; readonly url: string } {
  const url = new URL(serverUrl);
  const proxy = startStallProxy(Number(url.port || "5432"));
  url.hostname = "127.0.0.1";
  url.port = String(proxy.port);
  return { proxy, url: url.href };
}

/**
 * Stalls the network through `proxy`, calls `stop`, and fails naming
 * `what` unless it ends within `ms`; thaws either way. Returns how long
 * the stop took, in milliseconds.
 */
export async function stopWhileStalled(
  proxy: StallProxy,
  stop: () => Promise<void>,
  what: string,
  ms = 2_000,
): Promise<number> {
  proxy.freeze();
  try {
    const started = performance.now();
    await within(stop(), ms, what);
    return performance.now() - started;
  } finally {
    proxy.thaw();
  }
}
