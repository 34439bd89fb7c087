/**
 * The guide in `docs/guide/` is a script: this test runs its chapters in
 * order, in one temp folder, as a reader following along would (see
 * `_guide.ts` for the conventions). Each block is a step; after the first
 * step that fails, the rest are skipped. Finally the app the guide leaves
 * behind must be formatted and lint-free, as the generated app is.
 *
 * Set `GUIDE_KEEP=1` to keep the temp folder, to look at the app the guide
 * made.
 */
import { fileURLToPath } from "node:url";
import {
  type GuideContext,
  guideEnv,
  GuideStepError,
  parseGuide,
  runStep,
  type Step,
} from "./_guide.ts";

const CHECKOUT = fileURLToPath(new URL("../..", import.meta.url)).replace(
  /[\\/]$/,
  "",
);
const GUIDE = `${CHECKOUT}/docs/guide`;

/** The chapters: `NN_name.md`, in order. */
function chapters(): string[] {
  return [...Deno.readDirSync(GUIDE)]
    .filter((entry) => entry.isFile && /^\d+_.+\.md$/.test(entry.name))
    .map((entry) => entry.name)
    .sort();
}

function describe(step: Step): string {
  const what = step.kind === "sh"
    ? step.commands.map((c) => c.text).join("; ")
    : `${step.path}${step.mode === "write" ? "" : ` (${step.mode})`}`;
  return `${step.file}:${step.line} ${
    what.length > 70 ? `${what.slice(0, 69)}…` : what
  }`;
}

Deno.test("the guide's chapters follow the conventions", () => {
  const names = chapters();
  if (names.length === 0) throw new Error(`no chapters in ${GUIDE}`);
  for (const name of names) {
    parseGuide(Deno.readTextFileSync(`${GUIDE}/${name}`), name);
  }
});

Deno.test("the guide runs as written", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "sequent-guide-" });
  const context: GuideContext = {
    cwd: dir,
    cli: `${CHECKOUT}/cli.ts`,
    env: guideEnv(),
    timeoutMs: 120_000,
  };
  let failed = false;
  try {
    for (const name of chapters()) {
      const steps = parseGuide(
        await Deno.readTextFile(`${GUIDE}/${name}`),
        name,
      );
      for (const step of steps) {
        const ok = await t.step({
          name: describe(step),
          ignore: failed,
          fn: () => runStep(step, context),
        });
        if (!ok) failed = true;
      }
    }
    await t.step({
      name:
        "the app the guide leaves behind passes deno fmt --check and deno lint",
      ignore: failed,
      fn: async () => {
        for (const args of [["fmt", "--check"], ["lint"]]) {
          const result = await new Deno.Command(Deno.execPath(), {
            args,
            cwd: context.cwd,
            env: context.env,
            clearEnv: true,
            stdout: "piped",
            stderr: "piped",
          }).output();
          if (result.code !== 0) {
            const decoder = new TextDecoder();
            throw new GuideStepError(
              `deno ${args.join(" ")} in ${context.cwd} failed:\n${
                decoder.decode(result.stdout)
              }${decoder.decode(result.stderr)}`,
            );
          }
        }
      },
    });
  } finally {
    if (Deno.env.get("GUIDE_KEEP")) {
      console.log(`kept the guide's folder ${dir}`);
    } else await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
