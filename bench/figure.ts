/**
 * The shape of one benchmark figure, as written to `bench/results.json`.
 */
export interface Figure {
  /** Dotted name, e.g. `memory.create_post.cmds_per_s`. */
  name: string;
  /** Our measured value. */
  value: number;
  /** Unit of `value` (and of `baseline`, unless `baselineUnit` says). */
  unit: string;
  /** The raw baseline measured in the same run, or null when there is none. */
  baseline: number | null;
  /** The baseline's unit when it is not `unit`. */
  baselineUnit?: string;
  /**
   * What the baseline is when it is not a raw loop doing the same work
   * (another figure of ours, say).
   */
  baselineIs?: string;
  /** value / baseline, or null when there is no baseline. */
  ratio: number | null;
  /**
   * Which way `value` (and so `ratio`) is better: "higher" for rates,
   * "lower" for durations and sizes.
   */
  better: "higher" | "lower";
  /** The machine's one-minute load average when the figure was taken. */
  load: number;
}

const LOWER_IS_BETTER: ReadonlySet<string> = new Set(["ms", "s", "MB"]);

/** Builds a figure, computing the ratio when a baseline exists. */
export function figure(
  name: string,
  value: number,
  unit: string,
  baseline: number | null = null,
  baselineUnit?: string,
  baselineIs?: string,
): Figure {
  return {
    name,
    value: round(value),
    unit,
    baseline: baseline === null ? null : round(baseline),
    ...(baselineUnit === undefined ? {} : { baselineUnit }),
    ...(baselineIs === undefined ? {} : { baselineIs }),
    ratio: baseline === null || baseline === 0
      ? null
      : round(value / baseline, 3),
    better: LOWER_IS_BETTER.has(unit) ? "lower" : "higher",
    load: round(Deno.loadavg()[0] ?? 0),
  };
}

function round(n: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** Runs `fn` repeatedly for about `ms` milliseconds; returns operations per second. */
export async function opsPerSecond(
  fn: () => Promise<unknown>,
  ms: number,
  warmup = 200,
): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  let count = 0;
  const start = performance.now();
  let now = start;
  while (now - start < ms) {
    await fn();
    count++;
    now = performance.now();
  }
  return count / ((now - start) / 1000);
}

/** The median of some numbers (0 for none). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return 0;
  return sorted.length % 2
    ? sorted[mid]!
    : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * A full garbage collection, when the process allows it (`--expose-gc`, as
 * `deno task bench` runs): each timed round then starts from a clean heap,
 * not from the garbage of the round before, which was another side's.
 */
export function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/**
 * A figure from rounds that alternate with their baseline's: the value and
 * the baseline are the medians of their rounds, and the ratio the median
 * of the ratios within each round (a slow moment of the machine spoils a
 * round, not the figure).
 */
export function pairedFigure(
  name: string,
  values: readonly number[],
  unit: string,
  baselines: readonly number[],
): Figure {
  const f = figure(name, median(values), unit, median(baselines));
  const ratios = values.map((v, i) => v / baselines[i]!);
  return { ...f, ratio: round(median(ratios), 3) };
}

/**
 * The items in round `round`'s order: rotated by `round`, so that over as
 * many rounds as there are items each one runs first once and after each
 * of the others.
 */
export function rotated<T>(items: readonly T[], round: number): T[] {
  return items.map((_, i) => items[(round + i) % items.length]!);
}

/** Runs `fn` `times` times and returns the median duration in milliseconds. */
export async function medianMs(
  fn: () => Promise<unknown>,
  times: number,
): Promise<number> {
  const durations: number[] = [];
  for (let i = 0; i < times; i++) {
    const start = performance.now();
    await fn();
    durations.push(performance.now() - start);
  }
  durations.sort((a, b) => a - b);
  return durations[Math.floor(durations.length / 2)] ?? 0;
}
