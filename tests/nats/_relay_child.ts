/**
 * An outbox relay in a process of its own, for relay_kill_test.ts: it
 * relays `Kill_Published` events of the store at <database> (a server URL,
 * or a PGlite folder another process holds) to <stream>, under <prefix>,
 * prints `started`, and runs until it is killed.
 *
 * Usage: deno run -A _relay_child.ts <database> <schema> <stream> <prefix> <nats>
 */
import { silentLogger } from "@sequent/core";
import {
  connectDatabase,
  PostgresEventStore,
  PostgresProcessorStore,
} from "@sequent/core/postgres";
import { OutboxRelay } from "@sequent/core/nats";

const [database, schema, stream, prefix, servers] = Deno.args as [
  string,
  string,
  string,
  string,
  string,
];
const client = await connectDatabase(database, { whenHeld: "use-holder" });
const store = new PostgresEventStore(client, { schema, closeClient: false });
const relay = new OutboxRelay({
  processors: new PostgresProcessorStore(client, store, { schema }),
  eventTypes: ["Kill_Published"],
  servers,
  stream,
  prefix,
  leaseMs: 1_000,
  publishTimeoutMs: 500,
  pollMs: { min: 5, max: 10 },
  batchSize: 200,
  maxBackoffMs: 200,
  logger: silentLogger,
});
relay.start();
console.log("started");
