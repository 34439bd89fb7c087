/**
 * The receiving side's inbox: what a consumer of another service's events
 * (see `EventConsumer` in `@sequent/core/nats`) keeps, so that each event
 * takes effect once however often it is delivered, and an aggregate whose
 * event cannot be handled waits while the others go on. The in-memory
 * inbox and PostgreSQL implement it.
 *
 * Rules every implementation keeps:
 *
 * - {@linkcode Inbox.handleOnce} runs the handler's writes and records the
 *   event's id in one transaction: when the id is recorded already, it
 *   runs nothing (`duplicate`); when the handler throws, nothing of it is
 *   stored and the id stays unrecorded.
 * - While an aggregate has messages set aside, its next message is set
 *   aside behind them instead of handled (`set aside`), atomically with
 *   the check: a message never slips past one set aside, even when another
 *   process is handling that aggregate's set-aside messages again.
 * - Messages set aside are kept whole (subject, headers, body), with the
 *   error of the one that failed; those held behind it have none. A
 *   request an operator makes is kept on the failed one until it is set
 *   aside again with a new error or taken back. They are
 *   listed per aggregate in sequence order. A message handled again
 *   (`retrying`) leaves the set-aside list in the transaction that handles
 *   it.
 * - Setting a message aside again never erases what is recorded for it.
 *   With an error, the new error replaces the old and ends the request on
 *   it (the request was done, and failed). Without one, a message already
 *   set aside stays as it is, error and request too: that is the same
 *   message delivered again because the ack that followed its setting
 *   aside was lost, and wiping its error would leave nothing for an
 *   operator's request to find.
 * - A skip is done once, to the message it was asked for:
 *   {@linkcode Inbox.takeBack} with `asked: "skip"` forgets a message only
 *   while a skip request rests on it, checked and forgotten in one step.
 *   Of the processes that saw the request, one takes the failed message
 *   back; the others find nothing, and never drop another message in its
 *   place.
 *
 * @module
 */
import type { RecordStore } from "./record_store.ts";

/**
 * A message as it came, kept whole when it is set aside.
 *
 * @example
 * ```ts
 * import type { InboxMessage } from "@sequent/core";
 *
 * const message: InboxMessage = {
 *   id: "9d3c…/2", aggregateId: "9d3c…", sequenceNumber: 2,
 *   subject: "blog.7.Post.9d3c…", headers: {}, body: "{}",
 * };
 * ```
 */
export interface InboxMessage {
  /** The event's id (the sender's `Nats-Msg-Id`): what makes it once. */
  readonly id: string;
  /** Its aggregate: the unit of order. */
  readonly aggregateId: string;
  /** Its place in its aggregate's stream. */
  readonly sequenceNumber: number;
  /** The subject it came on. */
  readonly subject: string;
  /** Its headers. */
  readonly headers: Readonly<Record<string, string>>;
  /** Its body (the event's payload, JSON). */
  readonly body: string;
}

/**
 * A message set aside: the first of its aggregate that failed (with the
 * error), or one that came after it and waits behind it.
 *
 * @example
 * ```ts
 * import type { SetAsideMessage } from "@sequent/core";
 *
 * function line(m: SetAsideMessage): string {
 *   return `${m.aggregateId} #${m.sequenceNumber}: ${m.error ?? "waiting"}`;
 * }
 * ```
 */
export interface SetAsideMessage extends InboxMessage {
  /** Why it failed; undefined for a message waiting behind a failed one. */
  readonly error: string | undefined;
  /** When it was set aside. */
  readonly setAsideAt: Date;
  /**
   * What an operator asked for the failed message (on it only), not done
   * yet: the consumer does it within a second or so.
   */
  readonly request: "retry" | "skip" | undefined;
}

/**
 * What {@linkcode Inbox.handleOnce} did with a message: ran the handler,
 * found it handled before, or set it aside behind its aggregate's.
 *
 * @example
 * ```ts
 * import type { InboxOutcome } from "@sequent/core";
 *
 * const outcome: InboxOutcome = "duplicate";
 * ```
 */
export type InboxOutcome = "handled" | "duplicate" | "set aside";

/**
 * Where a consumer keeps the ids of the events it has handled and the
 * messages it set aside; see the module documentation for the rules.
 *
 * @example Each event once
 * ```ts
 * import { InMemoryEventStore, InMemoryInbox } from "@sequent/core";
 *
 * const inbox = new InMemoryInbox(new InMemoryEventStore());
 * const message = {
 *   id: "a/1", aggregateId: crypto.randomUUID(), sequenceNumber: 1,
 *   subject: "blog.0.Post.a", headers: {}, body: "{}",
 * };
 * let runs = 0;
 * await inbox.handleOnce("newsletter", message, () => Promise.resolve(void runs++));
 * await inbox.handleOnce("newsletter", message, () => Promise.resolve(void runs++));
 * console.assert(runs === 1);
 * ```
 */
export interface Inbox {
  /**
   * Runs `work` and records the message's id as handled by `consumer`, in
   * one transaction, unless it was recorded before or its aggregate has
   * messages set aside (then it is set aside behind them).
   *
   * @param consumer The consumer's name.
   * @param message The message.
   * @param work The handler's writes, through the records it is given.
   * @param options `retrying`: the message is one set aside, handled
   *   again: it waits behind nothing and leaves the set-aside list with
   *   this transaction.
   * @returns What it did.
   */
  handleOnce(
    consumer: string,
    message: InboxMessage,
    work: (records: RecordStore) => Promise<void>,
    options?: { readonly retrying?: boolean },
  ): Promise<InboxOutcome>;
  /**
   * Sets a message aside, or records a new error for one set aside (which
   * ends the request on it). Without an error, a message set aside already
   * is left as it is, its error and request kept.
   *
   * @param consumer The consumer's name.
   * @param message The message.
   * @param error Why it failed; undefined for one held behind a failed one.
   */
  setAside(
    consumer: string,
    message: InboxMessage,
    error: string | undefined,
  ): Promise<void>;
  /**
   * The messages set aside, each aggregate's in sequence order.
   *
   * @param consumer The consumer's name.
   * @param aggregateId Only this aggregate's.
   * @returns The messages.
   */
  setAsideMessages(
    consumer: string,
    aggregateId?: string,
  ): Promise<SetAsideMessage[]>;
  /**
   * Asks the consumer, in whatever process it runs, to handle an
   * aggregate's set-aside messages again, or to drop the failed one and
   * handle the rest. Setting the failed message aside again with a new
   * error ends the request.
   *
   * @param consumer The consumer's name.
   * @param aggregateId The parked aggregate.
   * @param request What to do.
   * @returns Whether the aggregate had a failed message set aside.
   */
  request(
    consumer: string,
    aggregateId: string,
    request: "retry" | "skip",
  ): Promise<boolean>;
  /**
   * Forgets messages set aside (handled since, or skipped).
   *
   * @example Doing a skip that was asked for
   * ```ts
   * import { InMemoryInbox } from "@sequent/core";
   *
   * const inbox = new InMemoryInbox();
   * const aggregateId = crypto.randomUUID();
   * const failed = {
   *   id: `${aggregateId}/1`, aggregateId, sequenceNumber: 1,
   *   subject: "blog.0.Post.a", headers: {}, body: "{}",
   * };
   * await inbox.setAside("newsletter", failed, "boom");
   * await inbox.request("newsletter", aggregateId, "skip");
   * const asked = { asked: "skip" } as const;
   * console.assert(await inbox.takeBack("newsletter", [failed.id], asked) === 1);
   * // a second process acting on the same request finds nothing to skip
   * console.assert(await inbox.takeBack("newsletter", [failed.id], asked) === 0);
   * ```
   *
   * @param consumer The consumer's name.
   * @param ids Their event ids.
   * @param options `asked: "skip"`: forget only those a skip request still
   *   rests on, checked and forgotten in one step.
   * @returns How many it forgot.
   */
  takeBack(
    consumer: string,
    ids: readonly string[],
    options?: { readonly asked?: "skip" | undefined },
  ): Promise<number>;
}
