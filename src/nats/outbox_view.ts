/**
 * The outbox relay's partitions against JetStream, for the event browser's
 * outbox page: per partition, the relay's checkpoint and owner from the
 * processor store, and the last message the stream holds on
 * `<prefix>.<partition>.>` (read with `last_by_subj`, which takes a
 * wildcard subject from nats-server 2.9 on).
 *
 * Every read is bounded: the connection, each JetStream request and the
 * whole read end within `timeoutMs`, with an error naming the server and
 * the stream.
 *
 * @module
 */
import { connect, type NatsConnection } from "@nats-io/transport-node";
import {
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
  jetstreamManager,
  type StoredMsg,
} from "@nats-io/jetstream";
import type { StreamPosition } from "../core/event_reader.ts";
import type {
  OutboxDescription,
  OutboxMessageView,
  OutboxPartitionState,
  OutboxPartitionView,
  OutboxView,
} from "../core/outbox_view.ts";
import { checkPartitionCount } from "../core/partition.ts";
import type { ProcessorStore } from "../core/processor_store.ts";
import { positive, serverList, streamName } from "./_loop_support.ts";
import { closeConnection } from "./_close_connection.ts";
import {
  checkSubjectPrefix,
  OUTBOX_HEADERS,
  partitionSubjects,
} from "./outbox_message.ts";

/**
 * Options of {@linkcode natsOutboxView}: the relay's own (its
 * `processors`, `servers`, `stream`, `prefix` and `name`), so the same
 * object can make both.
 *
 * @example
 * ```ts
 * import type { NatsOutboxViewOptions } from "@sequent/core/nats";
 * import { InMemoryEventStore, InMemoryProcessorStore } from "@sequent/core";
 *
 * const options: NatsOutboxViewOptions = {
 *   processors: new InMemoryProcessorStore(new InMemoryEventStore()),
 *   servers: "127.0.0.1:4222",
 *   stream: "BLOG",
 *   prefix: "blog",
 *   timeoutMs: 2_000,
 * };
 * ```
 */
export interface NatsOutboxViewOptions {
  /** Where the relay keeps its claims and checkpoints. */
  readonly processors: ProcessorStore;
  /** The NATS servers (default `127.0.0.1:4222`). */
  readonly servers?: string | readonly string[] | undefined;
  /** The relay's stream (default `SEQUENT_OUTBOX`). */
  readonly stream?: string | undefined;
  /** The relay's subject prefix (default `sequent`). */
  readonly prefix?: string | undefined;
  /** The relay's processor name (default `outbox`). */
  readonly name?: string | undefined;
  /**
   * The partitions to show: `0` to `partitions - 1` (at most 1,024).
   * Default: those the relay has recorded (none before it first ran).
   */
  readonly partitions?: number | undefined;
  /**
   * How long a read may take in all, connecting included (default 5,000
   * ms); past it, the read fails with a message naming the server.
   */
  readonly timeoutMs?: number | undefined;
}

/** A failure whose message is already meant for an operator. */
class ViewError extends Error {}

/**
 * Makes the {@linkcode OutboxView} of an outbox relay on JetStream. Each
 * `partitions()` connects, reads the relay's record and one message per
 * partition (16 at a time), and closes the connection.
 *
 * @example Mounting it in the event browser
 * ```ts ignore
 * import { createApp, InMemoryProcessorStore } from "@sequent/core";
 * import { createEventBrowser } from "@sequent/core/browser";
 * import { natsOutboxView } from "@sequent/core/nats";
 *
 * const app = await createApp({ database: "memory://", commandHandlers: [] });
 * const outbox = natsOutboxView({
 *   processors: app.processorStore!,
 *   stream: "BLOG",
 *   prefix: "blog",
 * });
 * const browser = createEventBrowser(app, { outbox });
 * ```
 *
 * @example Reading it
 * ```ts
 * import { InMemoryEventStore, InMemoryProcessorStore } from "@sequent/core";
 * import { natsOutboxView } from "@sequent/core/nats";
 *
 * const view = natsOutboxView({
 *   processors: new InMemoryProcessorStore(new InMemoryEventStore()),
 *   stream: "BLOG",
 *   prefix: "blog",
 * });
 * console.assert(view.description.stream === "BLOG");
 * ```
 *
 * @param options The relay's store, servers, stream, prefix and name.
 * @returns The view.
 * @throws {TypeError} for a stream name or prefix NATS does not accept.
 * @throws {RangeError} for a partition count or timeout out of range.
 */
export function natsOutboxView(options: NatsOutboxViewOptions): OutboxView {
  const processors = options.processors;
  const servers = serverList(options.servers);
  const description: OutboxDescription = {
    relay: options.name ?? "outbox",
    stream: streamName(options.stream),
    prefix: checkSubjectPrefix(options.prefix ?? "sequent"),
  };
  const count = options.partitions === undefined
    ? undefined
    : checkPartitionCount(options.partitions);
  const timeoutMs = positive("timeoutMs", options.timeoutMs, 5_000);
  const where = `stream ${description.stream} on NATS at ${servers.join(", ")}`;

  async function read(
    deadline: Promise<never>,
    connection: { nc?: NatsConnection; done: boolean },
  ): Promise<OutboxPartitionView[]> {
    const [record] = await Promise.race([
      processors.records([description.relay]),
      deadline,
    ]);
    const recorded = new Map(
      (record?.partitions ?? []).map((p) => [p.partition, p]),
    );
    const numbers = count === undefined
      ? [...recorded.keys()].sort((a, b) => a - b).slice(0, 1024)
      : Array.from({ length: count }, (_, i) => i);
    const connecting = connect({
      servers,
      name: `sequent outbox view ${description.relay}`,
      timeout: timeoutMs,
      reconnect: false,
      maxReconnectAttempts: 0,
    });
    // a connection made after the deadline is closed at once
    connecting.then((nc) => {
      connection.nc = nc;
      if (connection.done) void closeConnection(nc);
    }, () => {});
    let nc: NatsConnection;
    try {
      nc = await Promise.race([connecting, deadline]);
    } catch (error) {
      if (error instanceof ViewError) throw error;
      throw new ViewError(
        `The outbox view could not connect to NATS at ${servers.join(", ")}: ${
          message(error)
        }`,
      );
    }
    const jsm = await Promise.race([
      jetstreamManager(nc, { timeout: timeoutMs }),
      deadline,
    ]);
    try {
      await Promise.race([jsm.streams.info(description.stream), deadline]);
    } catch (error) {
      if (
        error instanceof JetStreamApiError &&
        error.code === JetStreamApiCodes.StreamNotFound
      ) {
        throw new ViewError(
          `JetStream has no ${where}: the relay creates it when it first connects`,
        );
      }
      throw error;
    }
    const last = await Promise.race([lastMessages(jsm, numbers), deadline]);
    const compare = processors.reader.comparePositions.bind(processors.reader);
    return numbers.map((partition) => {
      const p = recorded.get(partition);
      const checkpoint = p?.checkpoint ?? record?.checkpoint ?? "";
      const lastMessage = last.get(partition);
      return {
        partition,
        owner: p?.owner,
        checkpoint,
        lastMessage,
        state: stateOf(checkpoint, lastMessage, compare),
      };
    });
  }

  /** Per partition, the last message on its subjects (16 requests at once). */
  async function lastMessages(
    jsm: JetStreamManager,
    partitions: readonly number[],
  ): Promise<Map<number, OutboxMessageView>> {
    const found = new Map<number, OutboxMessageView>();
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < partitions.length; i = next++) {
        const p = partitions[i]!;
        const m = await jsm.streams.getMessage(description.stream, {
          last_by_subj: partitionSubjects(description.prefix, p),
        });
        if (m) found.set(p, messageView(m));
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    return found;
  }

  return {
    description,
    async partitions() {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const connection: { nc?: NatsConnection; done: boolean } = {
        done: false,
      };
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new ViewError(
                `The outbox view got no answer within ${timeoutMs} ms reading the relay's record, then the ${where}`,
              ),
            ),
          timeoutMs,
        );
      });
      // a read that ends first leaves the deadline rejected unseen
      deadline.catch(() => {});
      try {
        return await read(deadline, connection);
      } catch (error) {
        if (error instanceof ViewError) throw new Error(error.message);
        throw new Error(
          `The outbox view could not read the ${where}: ${message(error)}`,
        );
      } finally {
        clearTimeout(timer);
        connection.done = true;
        if (connection.nc) await closeConnection(connection.nc);
      }
    },
  };
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function messageView(m: StoredMsg): OutboxMessageView {
  const header = (name: string) => m.header?.get(name) || undefined;
  const seqText = header(OUTBOX_HEADERS.aggregateSequence);
  const seq = seqText !== undefined && /^\d{1,15}$/.test(seqText)
    ? Number(seqText)
    : undefined;
  return {
    streamSequence: m.seq,
    subject: m.subject,
    storedAt: m.time,
    aggregateId: header(OUTBOX_HEADERS.aggregateId),
    sequenceNumber: seq,
    eventType: header(OUTBOX_HEADERS.eventType),
    position: header(OUTBOX_HEADERS.position),
  };
}

function stateOf(
  checkpoint: StreamPosition,
  last: OutboxMessageView | undefined,
  compare: (a: StreamPosition, b: StreamPosition) => number,
): OutboxPartitionState {
  if (!last) return "no message";
  if (last.position === undefined) return "unknown";
  try {
    return compare(last.position, checkpoint) <= 0
      ? "in step"
      : "checkpoint behind";
  } catch {
    // a position this store did not make
    return "unknown";
  }
}
