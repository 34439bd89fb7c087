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
  /** value / baseline, or null when there is no baseline. */
  ratio: number | null;
}

/** Builds a figure, computing the ratio when a baseline exists. */
export function figure(
  name: string,
  value: number,
  unit: string,
  baseline: number | null = null,
  baselineUnit?: string,
): Figure {
  return {
    name,
    value: round(value),
    unit,
    baseline: baseline === null ? null : round(baseline),
    ...(baselineUnit === undefined ? {} : { baselineUnit }),
    ratio: baseline === null || baseline === 0
      ? null
      : round(value / baseline, 3),
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
