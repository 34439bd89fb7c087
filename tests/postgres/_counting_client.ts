/**
 * A SqlClient wrapper that records every call, to prove how many statements
 * and transactions the store uses.
 */
import type {
  SqlClient,
  SqlCopyRows,
  SqlRow,
  SqlStatement,
  SqlTransaction,
  SqlValue,
} from "@sequent/core/postgres";

/** One call that reached the database. */
export interface Call {
  /** `query`, `batch`, `execute`, `copyIn`, `transaction`, or `tx.<call>`. */
  readonly kind: string;
  /** The statement texts of the call. */
  readonly texts: readonly string[];
  /** The parameters of its first statement. */
  readonly params: readonly SqlValue[];
}

function wrapTransaction(tx: SqlTransaction, calls: Call[]): SqlTransaction {
  const wrapped: SqlTransaction = {
    query<Row = SqlRow>(text: string, params: readonly SqlValue[] = []) {
      calls.push({ kind: "tx.query", texts: [text], params });
      return tx.query<Row>(text, params);
    },
    batch(statements: readonly SqlStatement[]) {
      calls.push({
        kind: "tx.batch",
        texts: statements.map((s) => s.text),
        params: statements[0]?.params ?? [],
      });
      return tx.batch(statements);
    },
    execute(script: string) {
      calls.push({ kind: "tx.execute", texts: [script], params: [] });
      return tx.execute(script);
    },
    copyIn(table: string, columns: readonly string[], rows: SqlCopyRows) {
      calls.push({ kind: "tx.copyIn", texts: [table], params: [] });
      return tx.copyIn(table, columns, rows);
    },
    copyOut(query: string, onData: (chunk: Uint8Array) => void) {
      calls.push({ kind: "tx.copyOut", texts: [query], params: [] });
      return tx.copyOut(query, onData);
    },
    enqueue(statement: SqlStatement, onRows?: (rows: SqlRow[]) => void) {
      calls.push({
        kind: "tx.enqueue",
        texts: [statement.text],
        params: statement.params ?? [],
      });
      tx.enqueue(statement, onRows);
    },
    transaction<T>(work: (inner: SqlTransaction) => Promise<T>) {
      calls.push({ kind: "tx.transaction", texts: [], params: [] });
      return tx.transaction(() => work(wrapped));
    },
  };
  return wrapped;
}

/** Wraps `client`; `calls` lists what was done since the last `reset()`. */
export function countingClient(
  client: SqlClient,
): SqlClient & { calls: Call[]; reset(): void; kinds(): string[] } {
  const calls: Call[] = [];
  return {
    engine: client.engine,
    description: client.description,
    calls,
    reset() {
      calls.splice(0);
    },
    kinds() {
      return calls.map((c) => c.kind);
    },
    query<Row = SqlRow>(text: string, params: readonly SqlValue[] = []) {
      calls.push({ kind: "query", texts: [text], params });
      return client.query<Row>(text, params);
    },
    batch(statements: readonly SqlStatement[]) {
      calls.push({
        kind: "batch",
        texts: statements.map((s) => s.text),
        params: statements[0]?.params ?? [],
      });
      return client.batch(statements);
    },
    execute(script: string) {
      calls.push({ kind: "execute", texts: [script], params: [] });
      return client.execute(script);
    },
    copyIn(table: string, columns: readonly string[], rows: SqlCopyRows) {
      calls.push({ kind: "copyIn", texts: [table], params: [] });
      return client.copyIn(table, columns, rows);
    },
    copyOut(query: string, onData: (chunk: Uint8Array) => void) {
      calls.push({ kind: "copyOut", texts: [query], params: [] });
      return client.copyOut(query, onData);
    },
    transaction<T>(work: (tx: SqlTransaction) => Promise<T>) {
      calls.push({ kind: "transaction", texts: [], params: [] });
      return client.transaction((tx) => work(wrapTransaction(tx, calls)));
    },
    close() {
      return client.close();
    },
  };
}
