/**
 * NATS for the tests: the shared JetStream server at `NATS_URL` (default
 * 127.0.0.1:4222, which `.ci/run` makes sure answers), a stream and subject
 * prefix of each test's own, a scan of a stream's messages, and a private
 * `nats-server` for tests that kill one.
 */
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";

/** The shared server. */
export const natsUrl: string = Deno.env.get("NATS_URL") ?? "127.0.0.1:4222";

/** A stream name and subject prefix no other test uses. */
export function freshStream(): { stream: string; prefix: string } {
  const tag = crypto.randomUUID().replaceAll("-", "").slice(0, 10);
  return { stream: `TEST_${tag}`, prefix: `test${tag}` };
}

/** One message as the receiving side sees it. */
export interface Scanned {
  readonly seq: number;
  readonly subject: string;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** Runs `fn` with a connection to `servers`, closed afterwards. */
export async function withNats<T>(
  fn: (nc: NatsConnection) => Promise<T>,
  servers: string = natsUrl,
): Promise<T> {
  const nc = await connect({ servers });
  try {
    return await fn(nc);
  } finally {
    await nc.close();
  }
}

/** Every message of a stream, in stream order. */
export function scan(stream: string, servers?: string): Promise<Scanned[]> {
  return withNats(async (nc) => {
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info(stream);
    const out: Scanned[] = [];
    for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
      const m = await jsm.streams.getMessage(stream, { seq });
      if (!m) continue;
      const headers: Record<string, string> = {};
      for (const [k, v] of m.header ?? []) headers[k] = v[0]!;
      out.push({
        seq: m.seq,
        subject: m.subject,
        headers,
        body: new TextDecoder().decode(m.data),
      });
    }
    return out;
  }, servers);
}

/** Creates a stream capturing `<prefix>.>`, with a duplicate window. */
export function createStream(
  stream: string,
  prefix: string,
  duplicateWindowMs: number,
  servers?: string,
): Promise<void> {
  return withNats(async (nc) => {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({
      name: stream,
      subjects: [`${prefix}.>`],
      duplicate_window: duplicateWindowMs * 1_000_000,
    });
  }, servers);
}

/** Deletes a stream if it exists. */
export function deleteStream(stream: string, servers?: string): Promise<void> {
  return withNats(async (nc) => {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.delete(stream).catch(() => false);
  }, servers);
}

/** Waits until `check` holds, polling. */
export async function until(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > end) {
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A `nats-server -js` of a test's own, on a free loopback port. */
export interface PrivateNats {
  readonly url: string;
  /** SIGKILLs it. */
  kill(): Promise<void>;
  /** Starts it again, on the same port and store. */
  start(): Promise<void>;
  /** Kills it and deletes its store. */
  dispose(): Promise<void>;
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Starts a private JetStream server (Debian's `nats-server`). */
export async function startPrivateNats(): Promise<PrivateNats> {
  const dir = await Deno.makeTempDir({ prefix: "sequent-nats-" });
  const port = freePort();
  const url = `127.0.0.1:${port}`;
  let child: Deno.ChildProcess | undefined;
  const start = async () => {
    child = new Deno.Command("nats-server", {
      args: ["-js", "-a", "127.0.0.1", "-p", String(port), "-sd", dir],
      stdout: "null",
      stderr: "null",
    }).spawn();
    const end = performance.now() + 10_000;
    for (;;) {
      try {
        const c = await Deno.connect({ hostname: "127.0.0.1", port });
        c.close();
        return;
      } catch {
        if (performance.now() > end) {
          throw new Error(`nats-server did not start on ${url}`);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  };
  const kill = async () => {
    if (!child) return;
    child.kill("SIGKILL");
    await child.status;
    child = undefined;
  };
  await start();
  return {
    url,
    kill,
    start,
    async dispose() {
      await kill();
      await Deno.remove(dir, { recursive: true });
    },
  };
}
