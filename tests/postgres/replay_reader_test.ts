/**
 * Reading events for a replay with COPY, slice by slice: every event once,
 * in order, whatever the partition keys hold; exact creation times; a
 * handler failing mid-slice leaves the transaction usable.
 */
import assert from "node:assert/strict";
import type { SqlClient, SqlTransaction } from "@sequent/core/postgres";
import { readReplayEvents } from "../../src/postgres/_replay_reader.ts";
import type { ReplayedEvent } from "../../src/postgres/_replay_decoder.ts";
import { backends, disposeAtEnd, shared } from "./_backends.ts";

const list = backends({ served: true });

const KEYS = ["", "it's", "back\\slash", "tab\tand\nnewline", "zé"];
const TYPE_NAMES = new Map([[1, "First"], [2, "Second"], [3, "Third"]]);

async function seed(client: SqlClient, table: string): Promise<string[]> {
  await client.execute(`
    DROP TABLE IF EXISTS ${table};
    CREATE TABLE ${table} (
      partition_key text NOT NULL, aggregate_id uuid NOT NULL,
      sequence_number integer NOT NULL, created_at timestamptz NOT NULL,
      event_type_id smallint NOT NULL, event_json jsonb NOT NULL,
      PRIMARY KEY (partition_key, aggregate_id, sequence_number));`);
  const expected: string[] = [];
  const rows: (string | number)[][] = [];
  for (const key of KEYS) {
    for (let a = 0; a < 3; a++) {
      const id = `00000000-0000-4000-8000-00000000000${a}`;
      for (let n = 1; n <= 3; n++) {
        rows.push([
          key,
          id,
          n,
          "2026-05-06T07:08:09.123999Z",
          n,
          `{"n":${n},"k":${JSON.stringify(key)}}`,
        ]);
      }
    }
  }
  await client.copyIn(
    table,
    [
      "partition_key",
      "aggregate_id",
      "sequence_number",
      "created_at",
      "event_type_id",
      "event_json",
    ],
    rows,
  );
  const sorted = await client.query<{ k: string }>(
    `SELECT partition_key || '|' || aggregate_id || '|' || sequence_number AS k
     FROM ${table} ORDER BY partition_key, aggregate_id, sequence_number`,
  );
  for (const r of sorted) expected.push(r.k);
  return expected;
}

for (const b of list) {
  Deno.test({
    name:
      `${b.name}: slices read every event once, in order, whatever the partition keys hold`,
    ...shared,
    fn: async () => {
      const client = await b.client();
      const table = `${b.schema}.replay_events`;
      const expected = await seed(client, table);
      for (const sliceSize of [1, 4, 9, 45, 1000]) {
        const seen: string[] = [];
        await client.transaction(async (tx) => {
          for await (
            const batch of readReplayEvents(tx, {
              table,
              where: "e.event_type_id IN (1, 2, 3)",
              typeNames: TYPE_NAMES,
              sliceSize,
            })
          ) {
            for (const e of batch) {
              seen.push(
                `${e.partitionKey}|${e.aggregateId}|${e.sequenceNumber}`,
              );
              assert.equal(
                e.createdAt.toISOString(),
                "2026-05-06T07:08:09.123Z",
              );
              const payload = JSON.parse(e.payload);
              assert.deepEqual(payload, {
                n: e.sequenceNumber,
                k: e.partitionKey,
              });
              assert.equal(e.eventType, TYPE_NAMES.get(payload.n));
            }
          }
        });
        assert.deepEqual(seen, expected, `slices of ${sliceSize}`);
      }
      // a condition is applied to every slice
      const odd: ReplayedEvent[] = [];
      await client.transaction(async (tx) => {
        for await (
          const batch of readReplayEvents(tx, {
            table,
            where: "e.sequence_number = 2",
            typeNames: TYPE_NAMES,
            sliceSize: 2,
          })
        ) {
          odd.push(...batch);
        }
      });
      assert.equal(odd.length, KEYS.length * 3);
      assert.ok(odd.every((e) => e.sequenceNumber === 2));
    },
  });

  Deno.test({
    name:
      `${b.name}: slices read in chunks of a few bytes (rows split anywhere) give the same events`,
    ...shared,
    fn: async () => {
      const client = await b.client();
      const table = `${b.schema}.replay_events`;
      const expected = await seed(client, table);
      const cases: [sliceSize: number, chunkSize: number][] = [
        [4, 1],
        [9, 7],
        [1000, 3],
      ];
      for (const [sliceSize, chunkSize] of cases) {
        const seen: string[] = [];
        await client.transaction(async (tx) => {
          // the copy handed over in pieces of `chunkSize` bytes
          const executor = {
            copyOut: (query: string, onData: (chunk: Uint8Array) => void) =>
              tx.copyOut(query, (chunk) => {
                for (let at = 0; at < chunk.length; at += chunkSize) {
                  onData(chunk.slice(at, at + chunkSize));
                }
              }),
          } as unknown as SqlTransaction;
          for await (
            const batch of readReplayEvents(executor, {
              table,
              where: "true",
              typeNames: TYPE_NAMES,
              sliceSize,
            })
          ) {
            for (const e of batch) {
              seen.push(
                `${e.partitionKey}|${e.aggregateId}|${e.sequenceNumber}`,
              );
              assert.deepEqual(JSON.parse(e.payload).k, e.partitionKey);
              assert.equal(
                e.createdAt.toISOString(),
                "2026-05-06T07:08:09.123Z",
              );
            }
          }
        });
        assert.deepEqual(seen, expected, `slices of ${sliceSize}`);
      }
    },
  });

  Deno.test({
    name:
      `${b.name}: a handler failing mid-slice stops the reading and leaves the transaction usable`,
    ...shared,
    fn: async () => {
      const client = await b.client();
      const table = `${b.schema}.replay_events`;
      await seed(client, table);
      const [count] = await client.transaction(async (tx) => {
        await assert.rejects(
          (async () => {
            for await (
              const _ of readReplayEvents(tx, {
                table,
                where: "true",
                typeNames: TYPE_NAMES,
                sliceSize: 5,
              })
            ) {
              throw new Error("handler failed");
            }
          })(),
          /handler failed/,
        );
        return await tx.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM ${table}`,
        );
      });
      assert.equal(count?.n, KEYS.length * 9);
    },
  });
}

disposeAtEnd(list);
