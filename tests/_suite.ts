/**
 * `deno task test`'s runner: `deno test -A --parallel` with the arguments
 * it is given, running twice as many test files at once as there are CPUs
 * unless `DENO_JOBS` says how many (`DENO_JOBS=1`: one at a time).
 *
 * Why twice: much of the suite waits rather than computes (child
 * processes, servers, Chromium, timers), so with one file per CPU the CPUs
 * sat idle about a sixth of the run. On a 2-CPU machine, one run after the
 * other: 179 s with 2 files at once, 159 s with 4, 156 s with 6.
 *
 * Files start in the order `test.include` in `deno.json` gives: the
 * longest first, so that none of them is left running alone at the end.
 *
 * Usage: `deno run -A tests/_suite.ts [deno test arguments]`.
 *
 * @module
 */

const jobs = Deno.env.get("DENO_JOBS") ??
  String(2 * navigator.hardwareConcurrency);
const child = new Deno.Command(Deno.execPath(), {
  args: ["test", "-A", "--parallel", ...Deno.args],
  env: { DENO_JOBS: jobs },
  stdin: "inherit",
  stdout: "inherit",
  stderr: "inherit",
}).spawn();
Deno.exit((await child.status).code);
