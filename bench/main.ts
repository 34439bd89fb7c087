/**
 * `deno task bench`: runs every benchmark, prints a table and writes
 * `bench/results.json`. Each figure stands beside a raw baseline measured in
 * the same run where there is one. Set BENCH_MS to change how long each
 * measurement runs (default 2000 ms).
 */
import type { Figure } from "./figure.ts";
import { run as memory } from "./memory_bench.ts";
import { run as postgres } from "./postgres_bench.ts";
import { run as commands } from "./command_bench.ts";
import { run as processors } from "./processor_bench.ts";
import { run as partitioned } from "./partitioned_bench.ts";
import { run as readYourWrites } from "./ryw_bench.ts";
import { run as readModels } from "./read_model_bench.ts";
import { run as nats } from "./nats_bench.ts";
import { run as browser } from "./browser_bench.ts";
import { run as otel } from "./otel_bench.ts";

const ms = Number(Deno.env.get("BENCH_MS") ?? 2000);

// The PostgreSQL figures need a server: DATABASE_URL, else the local one.
if (!Deno.env.get("DATABASE_URL")) {
  Deno.env.set("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test");
}

const suites: [string, (ms: number) => Promise<Figure[]>][] = [
  ["memory", memory],
  ["postgres (the store alone)", postgres],
  ["commands (the whole command path)", commands],
  ["read models", readModels],
  ["processors", processors],
  ["partitioned processors", partitioned],
  ["read-your-writes", readYourWrites],
  ["nats", nats],
  ["event browser", browser],
  ["opentelemetry", otel],
];

const figures: Figure[] = [];
for (const [name, suite] of suites) {
  console.error(`running ${name} …`);
  figures.push(...await suite(ms));
}

const results = {
  figures,
  machine: {
    cpus: navigator.hardwareConcurrency,
    loadavg: Deno.loadavg(),
    deno: Deno.version.deno,
    date: new Date().toISOString(),
  },
};
await Deno.writeTextFile(
  new URL("./results.json", import.meta.url),
  JSON.stringify(results, null, 2) + "\n",
);

const rows = figures.map((f) => [
  f.name,
  String(f.value),
  f.unit,
  f.baseline === null
    ? "-"
    : `${f.baseline}${f.baselineUnit ? ` ${f.baselineUnit}` : ""}`,
  f.ratio === null ? "-" : String(f.ratio),
]);
const header = ["figure", "value", "unit", "baseline", "ratio"];
const widths = header.map((h, i) =>
  Math.max(h.length, ...rows.map((r) => (r[i] as string).length))
);
const line = (cells: string[]) =>
  cells.map((c, i) =>
    i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number)
  )
    .join("  ");
console.log(line(header));
for (const row of rows) console.log(line(row));
