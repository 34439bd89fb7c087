/**
 * The in-memory {@linkcode Inbox}, beside the records a consumer's handler
 * writes (an {@linkcode InMemoryRecordStore}, an in-memory event store's
 * by default): for tests and single-process programs. It keeps the port's
 * rules: the handler's writes and the recorded id commit together, or
 * neither. Handlers take turns over the records, with each other and with
 * the processors of an `InMemoryProcessorStore` writing them: a
 * transaction of the in-memory records undoes by putting old rows back,
 * so one handler's rollback would otherwise undo another's committed
 * writes. (A handler must therefore not wait, inside its work, for a
 * processor's batch over the same records — `waitFor` of a read-your-writes
 * token, say: that batch waits for the handler's turn to end.)
 *
 * @module
 */
import type {
  Inbox,
  InboxMessage,
  InboxOutcome,
  SetAsideMessage,
} from "../core/inbox.ts";
import type { RecordStore } from "../core/record_store.ts";
import { InMemoryRecordStore } from "./in_memory_record_store.ts";
import { inRecordTurn } from "./_record_turns.ts";

/**
 * A consumer's inbox kept in memory.
 *
 * @example
 * ```ts
 * import { InMemoryInbox } from "@sequent/core";
 *
 * const inbox = new InMemoryInbox();
 * const message = {
 *   id: "a/1", aggregateId: crypto.randomUUID(), sequenceNumber: 1,
 *   subject: "blog.0.Post.a", headers: {}, body: "{}",
 * };
 * console.assert(await inbox.handleOnce("newsletter", message, async () => {}) === "handled");
 * console.assert(await inbox.handleOnce("newsletter", message, async () => {}) === "duplicate");
 * ```
 */
export class InMemoryInbox implements Inbox {
  /** The records handlers write. */
  readonly records: InMemoryRecordStore;
  readonly #handled = new Map<string, Set<string>>();
  readonly #setAside = new Map<string, Map<string, SetAsideMessage>>();

  /**
   * Creates the inbox.
   *
   * @param store Whose records handlers write (default: records of its own).
   */
  constructor(store?: { readonly records: InMemoryRecordStore }) {
    this.records = store?.records ?? new InMemoryRecordStore();
  }

  /** {@inheritDoc Inbox.handleOnce} */
  handleOnce(
    consumer: string,
    message: InboxMessage,
    work: (records: RecordStore) => Promise<void>,
    options: { readonly retrying?: boolean } = {},
  ): Promise<InboxOutcome> {
    // one handler's transaction over the records at a time (see the module
    // documentation), as row locks make them wait on PostgreSQL
    return inRecordTurn(
      this.records,
      () => this.#handleOnce(consumer, message, work, options),
    );
  }

  async #handleOnce(
    consumer: string,
    message: InboxMessage,
    work: (records: RecordStore) => Promise<void>,
    options: { readonly retrying?: boolean },
  ): Promise<InboxOutcome> {
    let handled = this.#handled.get(consumer);
    if (!handled) this.#handled.set(consumer, handled = new Set());
    const aside = this.#setAside.get(consumer);
    const outcome = (): InboxOutcome | undefined => {
      if (
        !options.retrying && aside &&
        [...aside.values()].some((m) =>
          m.aggregateId === message.aggregateId.toLowerCase()
        )
      ) {
        this.#put(consumer, message, undefined);
        return "set aside";
      }
      if (handled.has(message.id)) {
        if (options.retrying) aside?.delete(message.id);
        return "duplicate";
      }
      return undefined;
    };
    const early = outcome();
    if (early) return early;
    const tx = this.records.begin();
    try {
      await work(tx);
    } catch (error) {
      tx.rollback();
      throw error;
    }
    // the state may have changed while the work ran: look again
    const late = outcome();
    if (late) {
      tx.rollback();
      return late;
    }
    tx.commit();
    handled.add(message.id);
    if (options.retrying) aside?.delete(message.id);
    return "handled";
  }

  /** {@inheritDoc Inbox.setAside} */
  setAside(
    consumer: string,
    message: InboxMessage,
    error: string | undefined,
  ): Promise<void> {
    this.#put(consumer, message, error);
    return Promise.resolve();
  }

  #put(
    consumer: string,
    message: InboxMessage,
    error: string | undefined,
  ): void {
    let aside = this.#setAside.get(consumer);
    if (!aside) this.#setAside.set(consumer, aside = new Map());
    const before = aside.get(message.id);
    // the same message again, without an error (delivered again, its ack
    // lost): what is recorded for it stays, or an operator could no
    // longer find the failed one
    if (before && error === undefined) return;
    aside.set(message.id, {
      id: message.id,
      aggregateId: message.aggregateId.toLowerCase(),
      sequenceNumber: message.sequenceNumber,
      subject: message.subject,
      headers: { ...message.headers },
      body: message.body,
      error,
      setAsideAt: before?.setAsideAt ?? new Date(),
      request: undefined,
    });
  }

  /** {@inheritDoc Inbox.request} */
  request(
    consumer: string,
    aggregateId: string,
    request: "retry" | "skip",
  ): Promise<boolean> {
    const aside = this.#setAside.get(consumer);
    const id = aggregateId.toLowerCase();
    const failed = [...(aside?.values() ?? [])].find((m) =>
      m.aggregateId === id && m.error !== undefined
    );
    if (!aside || !failed) return Promise.resolve(false);
    aside.set(failed.id, { ...failed, request });
    return Promise.resolve(true);
  }

  /** {@inheritDoc Inbox.setAsideMessages} */
  setAsideMessages(
    consumer: string,
    aggregateId?: string,
  ): Promise<SetAsideMessage[]> {
    const all = [...(this.#setAside.get(consumer)?.values() ?? [])]
      .filter((m) =>
        aggregateId === undefined ||
        m.aggregateId.toLowerCase() === aggregateId.toLowerCase()
      );
    all.sort((a, b) =>
      a.aggregateId < b.aggregateId
        ? -1
        : a.aggregateId > b.aggregateId
        ? 1
        : a.sequenceNumber - b.sequenceNumber
    );
    return Promise.resolve(all);
  }

  /** {@inheritDoc Inbox.takeBack} */
  takeBack(
    consumer: string,
    ids: readonly string[],
    options: { readonly asked?: "skip" | undefined } = {},
  ): Promise<number> {
    const aside = this.#setAside.get(consumer);
    let forgotten = 0;
    for (const id of ids) {
      const m = aside?.get(id);
      if (!m || (options.asked && m.request !== options.asked)) continue;
      aside?.delete(id);
      forgotten++;
    }
    return Promise.resolve(forgotten);
  }
}
