/**
 * Reading events for a replay with COPY, slice by slice: every event once,
 * in order, whatever the partition keys hold; exact creation times; a
 * handler failing mid-slice leaves the transaction usable.
 */
import assert from "node:assert/strict";
import type { SqlClient, SqlTransaction } from "@sequent/core/postgres";
import {
  createdAtMillis,
  readReplayRows,
  type ReplayRow,
} from "../../src/postgres/_replay_reader.ts";
import { backends, disposeAtEnd, shared } from "./_backends.ts";

const list = backends({ served: true });

const KEYS = ["", "it's", "back\\slash", "tab\tand\nnewline", "zé"];

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
            const batch of readReplayRows(tx, {
              table,
              where: "e.event_type_id IN (1, 2, 3)",
              sliceSize,
            })
          ) {
            for (const row of batch) {
              seen.push(`${row[0]}|${row[1]}|${row[2]}`);
              assert.equal(
                new Date(createdAtMillis(row[3] as string)).toISOString(),
                "2026-05-06T07:08:09.123Z",
              );
              assert.deepEqual(JSON.parse(row[5] as string), {
                n: Number(row[4]),
                k: row[0],
              });
            }
          }
        });
        assert.deepEqual(seen, expected, `slices of ${sliceSize}`);
      }
      // a condition is applied to every slice
      const odd: ReplayRow[] = [];
      await client.transaction(async (tx) => {
        for await (
          const batch of readReplayRows(tx, {
            table,
            where: "e.sequence_number = 2",
            sliceSize: 2,
          })
        ) {
          odd.push(...batch);
        }
      });
      assert.equal(odd.length, KEYS.length * 3);
      assert.ok(odd.every((r) => r[2] === "2"));
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
            const batch of readReplayRows(executor, {
              table,
              where: "true",
              sliceSize,
            })
          ) {
            for (const row of batch) {
              seen.push(`${row[0]}|${row[1]}|${row[2]}`);
              assert.deepEqual(JSON.parse(row[5] as string).k, row[0]);
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
              const _ of readReplayRows(tx, {
                table,
                where: "true",
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

Deno.test("createdAtMillis reads timestamptz_send's bytes, truncating microseconds", () => {
  // 2000-01-01 00:00:00.001999 and 1999-12-31 23:59:59.999999
  assert.equal(createdAtMillis("\\\\x00000000000007cf"), 946_684_800_001);
  assert.equal(createdAtMillis("\\xffffffffffffffff"), 946_684_799_999);
  assert.throws(
    () => createdAtMillis("2026-01-01"),
    /Unexpected created_at bytes/,
  );
  assert.throws(
    () => createdAtMillis("\\\\x00000000000007cg"),
    /Unexpected created_at bytes/,
  );
});

disposeAtEnd(list);
