/**
 * The browse-queries contract on the embedded database and, when
 * `DATABASE_URL` is set, on a PostgreSQL server.
 */
import { browseQueriesContract } from "../contract/browse_queries_contract.ts";
import { backends, disposeAtEnd, shared } from "./_backends.ts";

const list = backends();
for (const b of list) {
  browseQueriesContract(
    `PostgresEventStore (${b.name})`,
    async () => ({ store: await b.emptyStore() }),
    { testOptions: shared },
  );
}

disposeAtEnd(list);
