/**
 * A process to kill in the middle of `migrate online` (see the killed
 * migration test in view_schema_migrator_test.ts): it opens the database,
 * runs online for version 2 of the items and names projectors in
 * transactions of `chunkSize` events read in slices of `batchSize`, prints
 * "paused" once the replay has handled `pauseAt` events (the chunks before
 * are committed by then, and rows of the current one flushed), and waits
 * there to be killed.
 *
 * Usage: deno run -A _migration_child.ts <url> <schema> <viewSchema> <pauseAt> <flushEvery> <chunkSize> <batchSize>
 */
import { connectDatabase } from "@sequent/core/postgres";
import {
  Mig_ItemProjector,
  Mig_NameProjector,
  quiet,
  rig,
} from "./_migration_domain.ts";

const [url, schema, viewSchema, pauseAt, flushEvery, chunkSize, batchSize] =
  Deno.args as [string, string, string, string, string, string, string];
const client = await connectDatabase(url);
const r = await rig(client, { schema, viewSchema });
const projector = new Mig_ItemProjector();
projector.onEvent = async (n) => {
  if (n !== Number(pauseAt)) return;
  console.log("paused");
  // keep the chunk's transaction open until the process is killed
  await new Promise((resolve) => setTimeout(resolve, 600_000));
};
await r.migrator(
  {
    1: [Mig_ItemProjector, Mig_NameProjector],
    2: [Mig_ItemProjector, Mig_NameProjector],
  },
  [projector],
  {
    flushEvery: Number(flushEvery),
    chunkSize: Number(chunkSize),
    batchSize: Number(batchSize),
  },
).online(quiet);
console.log("finished without being killed");
await client.close();
