import { InMemoryEventStore } from "@sequent/core";
import { eventStoreContract } from "../contract/event_store_contract.ts";

eventStoreContract(
  "InMemoryEventStore",
  () => Promise.resolve({ store: new InMemoryEventStore() }),
);
