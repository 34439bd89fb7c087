/**
 * On PostgreSQL (`DATABASE_URL`): one `traceparent` per commit is kept in
 * the command record (`commands.trace_context`, schema version 8), on the
 * fast path for a new stream and through `store_commit` alike; a
 * processor's batch span links to it, found through the events'
 * `command_id`; the command record read back carries it; an untraced
 * command stores none. A store of version 7 is
 * upgraded: its records keep none.
 */
import assert from "node:assert/strict";
import { createApp, silentLogger } from "@sequent/core";
import {
  connectDatabase,
  EVENT_STORE_SCHEMA_VERSION,
  installEventStore,
} from "@sequent/core/postgres";
import { openTelemetry, traceparentOf } from "@sequent/core/otel";
import { serverUrl } from "../postgres/_backends.ts";
import { dropSchemas, schemaName } from "../app/_server_schemas.ts";
import { AddPost, NotifyWorkflow, Post, PostCommandHandler } from "./_blog.ts";
import { sdk, takeSpans } from "./_sdk.ts";

Deno.test({
  name:
    "PostgreSQL keeps one traceparent per commit, and a processor links to it",
  ignore: serverUrl === undefined,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    sdk();
    const schema = schemaName("otel_trace");
    const config = {
      database: serverUrl!,
      eventStoreSchema: schema,
      viewSchema: `${schema}_view`,
      commandHandlers: [new PostCommandHandler()],
      aggregates: [Post],
      processors: [NotifyWorkflow],
      logger: silentLogger,
    };
    const app = await createApp({ ...config, telemetry: openTelemetry() });
    const plain = await createApp(config);
    const sql = await connectDatabase(serverUrl!);
    try {
      takeSpans();
      const id = crypto.randomUUID();
      const post = { title: "t", author: "a", body: "b" };
      await app.executeCommands(new AddPost({ aggregateId: id, ...post }));
      const plainId = crypto.randomUUID();
      await plain.executeCommands(
        new AddPost({ aggregateId: plainId, ...post }),
      );
      const first = takeSpans();
      const command = first.find((s) => s.name === "command AddPost")!;
      // the commit: the unit's one round trip, under the command's span
      const commit = first.find((s) => s.name === "sequent.commit")!;
      assert.equal(commit.attributes["db.system.name"], "postgresql");
      assert.equal(
        commit.parentSpanContext?.spanId,
        command.spanContext().spanId,
      );
      // with the id of the transaction its events carry
      const [stored] = await sql.query<{ x: string }>(
        `SELECT DISTINCT xact_id::text AS x FROM ${schema}.events
         WHERE aggregate_id = $1`,
        [id],
      );
      assert.equal(
        commit.attributes["sequent.commit.transaction_id"],
        stored?.x,
      );
      // the processor issues NotifyPost through store_commit
      await app.processors!.round();
      const spans = takeSpans();
      const process = spans.find((s) => s.name === "process NotifyWorkflow")!;
      assert.deepEqual(process.links.map((l) => l.context.spanId), [
        command.spanContext().spanId,
      ]);
      // one NotifyPost per post, the untraced one's too: issued under
      // the process span, both are traced
      const notified = spans.filter((s) => s.name === "command NotifyPost")
        .map((s) => traceparentOf(s.spanContext()));
      assert.equal(notified.length, 2);
      // and the command record read back carries it (an untraced one not)
      const record = await app.eventStore.commandForEvent(id, 1);
      assert.equal(record?.traceparent, traceparentOf(command.spanContext()));
      const plainRecord = await app.eventStore.commandForEvent(plainId, 1);
      assert.ok(plainRecord && !("traceparent" in plainRecord));
      const rows = await sql.query(
        `SELECT t.type, c.trace_context FROM ${schema}.commands c
         JOIN ${schema}.command_types t ON t.id = c.command_type_id
         ORDER BY c.id`,
      );
      assert.deepEqual(rows.map((r) => [r.type, r.trace_context]), [
        ["AddPost", traceparentOf(command.spanContext())],
        ["AddPost", null],
        ["NotifyPost", notified[0]],
        ["NotifyPost", notified[1]],
      ]);
    } finally {
      await sql.close();
      await plain.close();
      await app.close();
      await dropSchemas(serverUrl!, schema);
    }
  },
});

Deno.test({
  name:
    "a version-7 store is upgraded to keep trace contexts: its command records get none, later ones theirs",
  ignore: serverUrl === undefined,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    sdk();
    const schema = schemaName("otel_upgrade");
    const sql = await connectDatabase(serverUrl!);
    try {
      assert.equal(
        (await installEventStore(sql, { schema, upToVersion: 7 })).version,
        7,
      );
      // a command record as version 7 stores it
      await sql.execute(
        `INSERT INTO ${schema}.command_types (type) VALUES ('Old');
         INSERT INTO ${schema}.commands (user_id, aggregate_id, command_type_id, command_json)
         SELECT NULL, gen_random_uuid(), id, '{}' FROM ${schema}.command_types`,
      );
      const upgrade = await installEventStore(sql, { schema });
      assert.equal(upgrade.previousVersion, 7);
      assert.equal(upgrade.version, EVENT_STORE_SCHEMA_VERSION);
      const app = await createApp({
        database: serverUrl!,
        eventStoreSchema: schema,
        viewSchema: `${schema}_view`,
        commandHandlers: [new PostCommandHandler()],
        aggregates: [Post],
        logger: silentLogger,
        telemetry: openTelemetry(),
      });
      try {
        takeSpans();
        await app.executeCommands(
          new AddPost({
            aggregateId: crypto.randomUUID(),
            title: "t",
            author: "a",
            body: "b",
          }),
        );
        const command = takeSpans().find((s) => s.name === "command AddPost")!;
        const rows = await sql.query(
          `SELECT trace_context FROM ${schema}.commands ORDER BY id`,
        );
        assert.deepEqual(rows.map((r) => r.trace_context), [
          null,
          traceparentOf(command.spanContext()),
        ]);
      } finally {
        await app.close();
      }
    } finally {
      await sql.close();
      await dropSchemas(serverUrl!, schema);
    }
  },
});
