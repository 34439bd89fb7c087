import assert from "node:assert/strict";
import { frameworkSource } from "../../src/cli/framework.ts";
import { VERSION } from "../../src/cli/version.ts";
import { CHECKOUT, toFileUrl } from "./_helpers.ts";

Deno.test("VERSION equals the version in deno.json and in deno.cli.json", async () => {
  for (const file of ["deno.json", "deno.cli.json"]) {
    const config = JSON.parse(await Deno.readTextFile(`${CHECKOUT}/${file}`));
    assert.equal(config.version, VERSION, file);
  }
});

Deno.test("frameworkSource() points a new app at jsr:@sequent/core when the CLI runs from JSR", () => {
  for (
    const url of [
      `https://jsr.io/@sequent/cli/${VERSION}/src/cli/framework.ts`,
      `jsr:@sequent/cli@${VERSION}/src/cli/framework.ts`,
    ]
  ) {
    const source = frameworkSource(url);
    assert.equal(source.kind, "jsr");
    assert.deepEqual(source.imports, {
      "@sequent/core": `jsr:@sequent/core@^${VERSION}`,
      "@sequent/core/testing": `jsr:@sequent/core@^${VERSION}/testing`,
      "@sequent/core/tasks": `jsr:@sequent/core@^${VERSION}/tasks`,
      "@sequent/core/browser": `jsr:@sequent/core@^${VERSION}/browser`,
    });
    assert.equal(source.cli, `jsr:@sequent/cli@^${VERSION}`);
    assert.equal(source.checkout, undefined);
  }
});

Deno.test("frameworkSource() points a new app at the checkout, with its npm packages, when the CLI runs from one", async () => {
  const url = toFileUrl(`${CHECKOUT}/src/cli/framework.ts`);
  const source = frameworkSource(url);
  assert.equal(source.kind, "local");
  assert.equal(source.checkout, CHECKOUT);
  const own = JSON.parse(await Deno.readTextFile(`${CHECKOUT}/deno.json`))
    .imports as Record<string, string>;
  const npm = Object.fromEntries(
    Object.entries(own).filter(([, target]) => target.startsWith("npm:")),
  );
  assert.ok("postgres" in npm && "@electric-sql/pglite" in npm);
  assert.deepEqual(source.imports, {
    "@sequent/core": `${CHECKOUT}/mod.ts`,
    "@sequent/core/testing": `${CHECKOUT}/src/testing/mod.ts`,
    "@sequent/core/tasks": `${CHECKOUT}/src/app/tasks.ts`,
    "@sequent/core/browser": `${CHECKOUT}/src/browser/mod.ts`,
    ...npm,
  });
  assert.equal(source.cli, `${CHECKOUT}/cli.ts`);
  assert.deepEqual(frameworkSource(), source);
});

Deno.test("frameworkSource() reads the npm packages of whichever checkout it runs from", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/deno.json`,
      JSON.stringify({
        imports: {
          "@sequent/core": "./mod.ts",
          "postgres": "npm:postgres@^9.9.9",
          "local": "./local.ts",
        },
      }),
    );
    const source = frameworkSource(toFileUrl(`${dir}/src/cli/framework.ts`));
    assert.equal(source.imports["postgres"], "npm:postgres@^9.9.9");
    assert.equal(source.imports["local"], undefined);
    assert.equal(source.imports["@sequent/core"], `${dir}/mod.ts`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("frameworkSource() fails with one line naming the file when the checkout has no deno.json", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assert.throws(
      () => frameworkSource(toFileUrl(`${dir}/src/cli/framework.ts`)),
      (error: unknown) =>
        error instanceof Error &&
        error.message.startsWith(
          `Cannot read the Sequent checkout's configuration "${dir}/deno.json"`,
        ) && !error.message.includes("\n"),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
