/**
 * A process writing ledger entries, for aggregate_cache_processes_test.ts:
 * its command service keeps the ledger between commands.
 *
 * Usage: deno run -A _cache_writer_child.ts <database> <schema> <writer> <ledger id> [install]
 *
 * Prints `ready` once connected (an embedded folder another process holds
 * is reached through its holder), after installing the event store with
 * `install`. Then, for each input line: `open` opens the ledger; `write`
 * writes an entry as <writer> and prints `wrote N full=F after=A events=E`
 * (its N-th write; loads in full, loads of only the later events, and the
 * events those read); `entries` prints `entries <JSON>`, the ledger's
 * stored events' payloads. Closes the database when its standard input
 * closes.
 */
import { CommandService } from "@sequent/core";
import {
  connectDatabase,
  installEventStore,
  PostgresEventStore,
} from "@sequent/core/postgres";
import {
  Ledger,
  LedgerHandler,
  type Loads,
  observed,
  OpenLedger,
  WriteEntry,
} from "../core/_ledger.ts";

const [database, schema, writer, id, install] = Deno.args as [
  string,
  string,
  string,
  string,
  string | undefined,
];
const client = await connectDatabase(database, { whenHeld: "use-holder" });
if (install === "install") await installEventStore(client, { schema });
const store = new PostgresEventStore(client, { schema, closeClient: false });
const loads: Loads = { full: 0, after: 0, afterEvents: 0 };
const service = new CommandService({
  eventStore: observed(store, loads),
  commandHandlers: [new LedgerHandler()],
  aggregates: [Ledger],
});
console.log("ready");
let written = 0;
let rest = "";
for await (
  const text of Deno.stdin.readable.pipeThrough(new TextDecoderStream())
) {
  const lines = (rest + text).split("\n");
  rest = lines.pop()!;
  for (const line of lines) {
    if (line === "open") {
      await service.executeCommands(new OpenLedger({ aggregateId: id }));
      console.log("opened");
    } else if (line === "entries") {
      const [stream] = await store.loadStreams([id]);
      const payloads = stream?.events.map((e) => JSON.parse(e.payload));
      console.log(`entries ${JSON.stringify(payloads ?? [])}`);
    } else if (line === "write") {
      await service.executeCommands(
        new WriteEntry({ aggregateId: id, writer }),
      );
      console.log(
        `wrote ${++written} full=${loads.full} after=${loads.after} events=${loads.afterEvents}`,
      );
    }
  }
}
await client.close();
