/**
 * The PostgreSQL {@linkcode Inbox}: the ids of the events a consumer has
 * handled and the messages it set aside, in two tables of a schema of the
 * inbox's own (default `sequent_inbox`, created by
 * {@linkcode installInbox}), over any {@linkcode SqlClient}: a program that
 * is not a Sequent app needs no event store for it.
 *
 * - `inbox_handled` (`consumer`, `event_id`) is the key: a handler's
 *   writes and the insert of its event's id share one transaction; an id
 *   there already (another delivery, committed or still running) makes
 *   the insert do nothing, and the handler is not run.
 * - Each handling takes a transaction-scoped advisory lock on its
 *   (consumer, aggregate) first, so the check for set-aside messages and a
 *   retry taking one back are never interleaved.
 * - `inbox_set_aside` keeps messages whole, with the error of the one that
 *   failed. Setting one aside again updates its row only with a new
 *   error, and a skip asked for deletes its row only while the request is
 *   on it: each is one statement, so concurrent processes cannot undo or
 *   repeat it.
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
import type { SqlClient } from "./sql_client.ts";
import { quotedSchema } from "./_sql_text.ts";
import { soleWriter, SqlRecordStore } from "./sql_record_store.ts";

/** The inbox's schema unless told otherwise. */
const DEFAULT_INBOX_SCHEMA = "sequent_inbox";

/**
 * Options of {@linkcode PostgresInbox} and {@linkcode installInbox}.
 *
 * @example
 * ```ts
 * import type { PostgresInboxOptions } from "@sequent/core/postgres";
 *
 * const options: PostgresInboxOptions = { schema: "newsletter_inbox", viewSchema: "newsletter" };
 * ```
 */
export interface PostgresInboxOptions {
  /** The inbox's schema (default `sequent_inbox`). */
  readonly schema?: string | undefined;
  /** The schema of the tables handlers write (default `view_schema`). */
  readonly viewSchema?: string | undefined;
}

/**
 * Creates the inbox's schema and tables when missing; safe to call every
 * time a consumer starts.
 *
 * @example
 * ```ts
 * import { connectDatabase, installInbox } from "@sequent/core/postgres";
 *
 * const client = await connectDatabase("memory://");
 * await installInbox(client);
 * await installInbox(client);
 * await client.close();
 * ```
 *
 * @param client The database.
 * @param options The schema.
 */
export async function installInbox(
  client: SqlClient,
  options: PostgresInboxOptions = {},
): Promise<void> {
  const s = quotedSchema(options.schema ?? DEFAULT_INBOX_SCHEMA);
  await client.transaction(async (tx) => {
    await tx.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [
      `sequent inbox ${s}`,
    ]);
    await tx.execute(`
      CREATE SCHEMA IF NOT EXISTS ${s};
      CREATE TABLE IF NOT EXISTS ${s}.inbox_handled (
        consumer text NOT NULL,
        event_id text NOT NULL,
        handled_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (consumer, event_id)
      );
      CREATE TABLE IF NOT EXISTS ${s}.inbox_set_aside (
        consumer text NOT NULL,
        event_id text NOT NULL,
        aggregate_id text NOT NULL,
        sequence_number integer NOT NULL,
        subject text NOT NULL,
        headers jsonb NOT NULL,
        body text NOT NULL,
        error text,
        set_aside_at timestamptz NOT NULL DEFAULT now(),
        request text CHECK (request IN ('retry', 'skip')),
        PRIMARY KEY (consumer, event_id)
      );
      CREATE INDEX IF NOT EXISTS inbox_set_aside_aggregate_idx
        ON ${s}.inbox_set_aside (consumer, aggregate_id, sequence_number);`);
  });
}

interface SetAsideRow {
  readonly event_id: string;
  readonly aggregate_id: string;
  readonly sequence_number: number;
  readonly subject: string;
  readonly headers: string;
  readonly body: string;
  readonly error: string | null;
  readonly set_aside_at: Date;
  readonly request: "retry" | "skip" | null;
}

/**
 * A consumer's inbox on PostgreSQL; see the module documentation.
 *
 * @example
 * ```ts
 * import { connectDatabase, installInbox, PostgresInbox } from "@sequent/core/postgres";
 *
 * const client = await connectDatabase("memory://");
 * await installInbox(client);
 * const inbox = new PostgresInbox(client);
 * const message = {
 *   id: "a/1", aggregateId: crypto.randomUUID(), sequenceNumber: 1,
 *   subject: "blog.0.Post.a", headers: {}, body: "{}",
 * };
 * console.assert(await inbox.handleOnce("newsletter", message, async () => {}) === "handled");
 * console.assert(await inbox.handleOnce("newsletter", message, async () => {}) === "duplicate");
 * await client.close();
 * ```
 */
export class PostgresInbox implements Inbox {
  readonly #client: SqlClient;
  readonly #s: string;
  readonly #viewSchema: string;

  /**
   * Creates the inbox; its tables must exist ({@linkcode installInbox}).
   *
   * @param client The database.
   * @param options The schemas.
   */
  constructor(client: SqlClient, options: PostgresInboxOptions = {}) {
    this.#client = client;
    this.#s = quotedSchema(options.schema ?? DEFAULT_INBOX_SCHEMA);
    this.#viewSchema = options.viewSchema ?? "view_schema";
    quotedSchema(this.#viewSchema);
  }

  /** {@inheritDoc Inbox.handleOnce} */
  handleOnce(
    consumer: string,
    message: InboxMessage,
    work: (records: RecordStore) => Promise<void>,
    options: { readonly retrying?: boolean } = {},
  ): Promise<InboxOutcome> {
    const s = this.#s;
    const aggregateId = message.aggregateId.toLowerCase();
    return this.#client.transaction(async (tx) => {
      // one at a time per aggregate: the check below and a retry's taking
      // a message back never interleave. The lock is a statement of its
      // own, so that the check's snapshot is taken after it; queued, it
      // goes out with the check, in one round trip.
      tx.enqueue({
        text: "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
        params: [`sequent inbox ${s} ${consumer} ${aggregateId}`],
      });
      if (options.retrying) {
        tx.enqueue({
          text:
            `DELETE FROM ${s}.inbox_set_aside WHERE consumer = $1 AND event_id = $2`,
          params: [consumer, message.id],
        });
      }
      const [row] = await tx.query<{ waiting: boolean; fresh: boolean }>(
        `WITH waiting AS (
           SELECT NOT $4::boolean AND EXISTS (
             SELECT 1 FROM ${s}.inbox_set_aside
             WHERE consumer = $1 AND aggregate_id = $3) AS w
         ), fresh AS (
           INSERT INTO ${s}.inbox_handled (consumer, event_id)
           SELECT $1, $2 WHERE NOT (SELECT w FROM waiting)
           ON CONFLICT DO NOTHING RETURNING 1
         )
         SELECT (SELECT w FROM waiting) AS waiting,
           EXISTS (SELECT 1 FROM fresh) AS fresh`,
        [consumer, message.id, aggregateId, options.retrying === true],
      );
      if (row?.waiting) {
        await this.#put(tx, consumer, message, undefined);
        return "set aside";
      }
      if (!row?.fresh) return "duplicate";
      // the handler's store is the only writer of the transaction meanwhile
      await work(soleWriter(new SqlRecordStore(tx, this.#viewSchema)));
      return "handled";
    });
  }

  /** {@inheritDoc Inbox.setAside} */
  async setAside(
    consumer: string,
    message: InboxMessage,
    error: string | undefined,
  ): Promise<void> {
    await this.#put(this.#client, consumer, message, error);
  }

  async #put(
    client: Pick<SqlClient, "query">,
    consumer: string,
    message: InboxMessage,
    error: string | undefined,
  ): Promise<void> {
    // a row there already is updated only with a new error: without one it
    // is the same message delivered again (its ack lost), and its error
    // and request stay for an operator to find
    await client.query(
      `INSERT INTO ${this.#s}.inbox_set_aside (consumer, event_id, aggregate_id,
         sequence_number, subject, headers, body, error)
       VALUES ($1, $2, $3, $4::integer, $5, $6::text::jsonb, $7, $8)
       ON CONFLICT (consumer, event_id) DO UPDATE SET error = excluded.error,
         request = NULL
       WHERE excluded.error IS NOT NULL`,
      [
        consumer,
        message.id,
        message.aggregateId.toLowerCase(),
        message.sequenceNumber,
        message.subject,
        JSON.stringify(message.headers),
        message.body,
        error ?? null,
      ],
    );
  }

  /** {@inheritDoc Inbox.setAsideMessages} */
  async setAsideMessages(
    consumer: string,
    aggregateId?: string,
  ): Promise<SetAsideMessage[]> {
    const rows = await this.#client.query<SetAsideRow>(
      `SELECT event_id, aggregate_id, sequence_number, subject,
         headers::text AS headers, body, error, set_aside_at, request
       FROM ${this.#s}.inbox_set_aside
       WHERE consumer = $1 AND ($2::text IS NULL OR aggregate_id = $2)
       ORDER BY aggregate_id, sequence_number`,
      [consumer, aggregateId?.toLowerCase() ?? null],
    );
    return rows.map((r) => ({
      id: r.event_id,
      aggregateId: r.aggregate_id,
      sequenceNumber: Number(r.sequence_number),
      subject: r.subject,
      headers: JSON.parse(r.headers) as Record<string, string>,
      body: r.body,
      error: r.error ?? undefined,
      setAsideAt: r.set_aside_at,
      request: r.request ?? undefined,
    }));
  }

  /** {@inheritDoc Inbox.request} */
  async request(
    consumer: string,
    aggregateId: string,
    request: "retry" | "skip",
  ): Promise<boolean> {
    const rows = await this.#client.query(
      `UPDATE ${this.#s}.inbox_set_aside SET request = $3
       WHERE consumer = $1 AND aggregate_id = $2 AND error IS NOT NULL
       RETURNING 1 AS found`,
      [consumer, aggregateId.toLowerCase(), request],
    );
    return rows.length > 0;
  }

  /** {@inheritDoc Inbox.takeBack} */
  async takeBack(
    consumer: string,
    ids: readonly string[],
    options: { readonly asked?: "skip" | undefined } = {},
  ): Promise<number> {
    if (ids.length === 0) return 0;
    // with `asked`, the check is in the DELETE itself: a second process
    // waits for the first one's row lock, then finds the row gone
    const rows = await this.#client.query(
      `DELETE FROM ${this.#s}.inbox_set_aside
       WHERE consumer = $1 AND event_id = ANY ($2::text::text[])
         AND ($3::text IS NULL OR request = $3)
       RETURNING 1 AS forgotten`,
      [
        consumer,
        `{${
          ids.map((id) =>
            `"${id.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`
          ).join(",")
        }}`,
        options.asked ?? null,
      ],
    );
    return rows.length;
  }
}
