/**
 * `processor.partitioned_scaling.{2,3}_members`: how a partitioned
 * processor speeds up with more members, on a PostgreSQL server. The
 * processor is a workflow whose handler waits 1 ms per event (an
 * I/O-bound handler: a call to another service, say); each member is a
 * runner of its own (in this process, as members in other processes would
 * be: they share nothing but the database). The figure is the events
 * handled per second by 2 (or 3) members; its baseline is 1 member,
 * measured in the same run, so the ratio is the speed-up (the issue asks
 * ≥ 1.6 and ≥ 2.2).
 *
 * Each measurement starts the members over 12,000 seeded events (the blog's
 * Post events of 3,000 posts), waits until their shares have settled
 * (every partition held, by as many owners as members), then counts the
 * events handled in a window of `BENCH_MS`. The figure includes the whole
 * processor path: reads, workflow units, fenced checkpoints of every held
 * partition.
 *
 * CPU-bound handlers cannot scale on this machine's 2 cores, so no figure
 * claims it.
 *
 * Run alone: `deno run -A bench/partitioned_bench.ts`.
 */
import {
  CommandService,
  ProcessorRunner,
  silentLogger,
  Workflow,
} from "@sequent/core";
import {
  PostgresEventStore,
  PostgresProcessorStore,
} from "@sequent/core/postgres";
import {
  PostAdded,
  PostAuthorChanged,
  PostContentChanged,
  PostTitleChanged,
} from "../tests/fixtures/blog.ts";
import { type Figure, figure } from "./figure.ts";
import { seedPosts } from "./read_model_bench.ts";
import { onScratchStore } from "./scratch_store.ts";

const POSTS = 3_000;
const NAME = "bench_partitioned";

const counter = { handled: 0 };

function io(): Promise<void> {
  counter.handled++;
  return new Promise((resolve) => setTimeout(resolve, 1));
}

/** Waits 1 ms per event, as a call to another service would. */
class OneMillisecondWorkflow extends Workflow {
  static partitioned = true;
  static processorName = NAME;
  static {
    this.on(PostAdded, io);
    this.on(PostAuthorChanged, io);
    this.on(PostTitleChanged, io);
    this.on(PostContentChanged, io);
  }
}

/** Events handled per second by `members` members, once their shares settle. */
async function rate(
  processors: PostgresProcessorStore,
  service: CommandService,
  members: number,
  ms: number,
): Promise<number> {
  const runners = Array.from(
    { length: members },
    (_, i) =>
      new ProcessorRunner({
        store: processors,
        service,
        processors: [new OneMillisecondWorkflow()],
        owner: `bench-member-${i + 1}`,
        leaseMs: 1_000,
        batchSize: 100,
        pollMs: { min: 5, max: 50 },
        logger: silentLogger,
      }),
  );
  await runners[0]!.reset(NAME);
  const stop = new AbortController();
  const runs = runners.map((r) => r.run({ signal: stop.signal }));
  try {
    const deadline = performance.now() + 10_000;
    for (;;) {
      const [record] = await processors.records([NAME]);
      const owners = new Set(record?.partitions.map((q) => q.owner));
      if (
        record?.partitions.length && !owners.has(undefined) &&
        owners.size === members
      ) break;
      if (performance.now() > deadline) {
        throw new Error(`${members} members did not settle in 10 s`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const from = counter.handled;
    const start = performance.now();
    await new Promise((resolve) => setTimeout(resolve, ms));
    const handled = counter.handled - from;
    const seconds = (performance.now() - start) / 1000;
    if (handled >= POSTS * 4 * 0.9) {
      throw new Error("the members ran out of events: seed more");
    }
    return handled / seconds;
  } finally {
    stop.abort();
    await Promise.all(runs);
  }
}

/** The scaling figures, on the server at `url`. */
export function partitionedFigures(
  url: string,
  ms: number,
): Promise<Figure[]> {
  return onScratchStore(url, async (client, schema) => {
    await seedPosts(client, schema, POSTS);
    const store = new PostgresEventStore(client, {
      schema,
      closeClient: false,
    });
    const service = new CommandService({
      eventStore: store,
      commandHandlers: [],
    });
    const processors = new PostgresProcessorStore(client, store, { schema });
    // alternate, so that a drift of the machine's load hits each alike
    const one: number[] = [];
    const two: number[] = [];
    const three: number[] = [];
    for (let round = 0; round < 2; round++) {
      one.push(await rate(processors, service, 1, ms));
      two.push(await rate(processors, service, 2, ms));
      three.push(await rate(processors, service, 3, ms));
    }
    const best = (xs: number[]) => Math.max(...xs);
    return [
      figure(
        "processor.partitioned_scaling.2_members",
        best(two),
        "events/s",
        best(one),
      ),
      figure(
        "processor.partitioned_scaling.3_members",
        best(three),
        "events/s",
        best(one),
      ),
    ];
  });
}

/** The scaling figures on `DATABASE_URL` (default the local server). */
export async function run(ms: number): Promise<Figure[]> {
  const url = Deno.env.get("DATABASE_URL") ??
    "postgres://postgres@127.0.0.1:5432/test";
  if (!url.startsWith("postgres")) return [];
  return await partitionedFigures(url, ms);
}

if (import.meta.main) {
  const ms = Number(Deno.env.get("BENCH_MS") ?? 2000);
  for (const f of await run(ms)) console.log(JSON.stringify(f));
  console.log(JSON.stringify({ loadavg: Deno.loadavg() }));
}
