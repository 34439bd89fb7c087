/**
 * The transaction a unit of work's code is handed on PostgreSQL: the reads,
 * over the unit, and `commit`, which buffers (see `_unit.ts`).
 *
 * @module
 */
import type {
  EventStoreTransaction,
  SerializedCommand,
  StreamCommit,
} from "../core/event_store.ts";
import type { EventStoreSql } from "./_event_store_sql.ts";
import { SqlRecordStore } from "./sql_record_store.ts";
import { type Unit, UnitSql } from "./_unit.ts";
import { Reader } from "./_event_store_reads.ts";

/** The transaction handed to a unit's work. */
export class UnitTransaction extends Reader implements EventStoreTransaction {
  readonly #unit: Unit;

  constructor(unit: Unit, sql: EventStoreSql, viewSchema: string) {
    super(unit, sql, new SqlRecordStore(new UnitSql(unit), viewSchema));
    this.#unit = unit;
  }

  commit(
    command: SerializedCommand,
    streams: readonly StreamCommit[],
  ): Promise<void> {
    try {
      this.#unit.commit(command, streams);
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  }
}
