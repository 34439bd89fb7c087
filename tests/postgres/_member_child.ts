/**
 * One member of the partitioned projector of
 * partitioned_members_kill_test.ts, in a process of its own: it connects,
 * prints `ready`, and runs until SIGTERM (a clean stop: its batch finishes
 * and its partitions are given up) or SIGKILL.
 *
 * Usage: deno run -A _member_child.ts <url> <schema> <view schema> <member> <log file> <lease ms> <batch size> <handler ms>
 */
import { CommandService, ProcessorRunner, silentLogger } from "@sequent/core";
import {
  connectDatabase,
  PostgresEventStore,
  PostgresProcessorStore,
} from "@sequent/core/postgres";
import { handledLog, MembersProjector } from "./_members_domain.ts";

const [url, schema, viewSchema, member, log, leaseMs, batchSize, handlerMs] =
  Deno.args as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string,
  ];
handledLog.member = member;
handledLog.delayMs = Number(handlerMs);
handledLog.file = Deno.openSync(log, { append: true, create: true });
const client = await connectDatabase(url);
const store = new PostgresEventStore(client, {
  schema,
  viewSchema,
  closeClient: false,
});
const runner = new ProcessorRunner({
  store: new PostgresProcessorStore(client, store, { schema, viewSchema }),
  service: new CommandService({ eventStore: store, commandHandlers: [] }),
  processors: [new MembersProjector()],
  owner: member,
  leaseMs: Number(leaseMs),
  batchSize: Number(batchSize),
  pollMs: { min: 5, max: 50 },
  logger: silentLogger,
});
const stop = new AbortController();
Deno.addSignalListener("SIGTERM", () => stop.abort());
const running = runner.run({ signal: stop.signal });
console.log("ready");
await running;
handledLog.file.close();
await client.close();
Deno.exit(0);
