import assert from "node:assert/strict";
import { alterTable, column, table } from "@sequent/core";

const vs_records = table("vs_records", { id: column.uuid().primaryKey() });

Deno.test("alterTable() keeps the table and SQL, frozen", () => {
  const change = alterTable(vs_records, "ALTER TABLE {table} ADD COLUMN x int");
  assert.equal(change.table, vs_records);
  assert.equal(change.sql, "ALTER TABLE {table} ADD COLUMN x int");
  assert.ok(Object.isFrozen(change));
});

Deno.test("alterTable() refuses empty SQL, naming the table", () => {
  assert.throws(
    () => alterTable(vs_records, "  "),
    /alterTable\(vs_records\) needs SQL/,
  );
});
