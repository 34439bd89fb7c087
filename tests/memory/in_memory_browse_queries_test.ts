import { InMemoryEventStore } from "@sequent/core";
import { browseQueriesContract } from "../contract/browse_queries_contract.ts";

browseQueriesContract(
  "InMemoryEventStore",
  () => Promise.resolve({ store: new InMemoryEventStore() }),
);
