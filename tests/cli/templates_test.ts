import assert from "node:assert/strict";
import { BLOG_TEMPLATE } from "../../src/cli/templates.ts";
import { assertSucceeded, CHECKOUT, deno } from "./_helpers.ts";

async function templateFiles(dir: string, prefix = ""): Promise<string[]> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(`${dir}/${prefix}`)) {
    const path = prefix === "" ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory) files.push(...await templateFiles(dir, path));
    else files.push(path);
  }
  return files.sort();
}

Deno.test("BLOG_TEMPLATE holds every file under templates/blog, as it is on disk", async () => {
  const dir = `${CHECKOUT}/templates/blog`;
  const onDisk = await templateFiles(dir);
  assert.ok(onDisk.every((path) => path.endsWith(".tmpl")), onDisk.join());
  const fromTemplate = (path: string) =>
    `${path === ".gitignore" ? "gitignore" : path}.tmpl`;
  assert.deepEqual(
    BLOG_TEMPLATE.map((file) => fromTemplate(file.path)).sort(),
    onDisk,
  );
  for (const file of BLOG_TEMPLATE) {
    assert.equal(
      file.text,
      await Deno.readTextFile(`${dir}/${fromTemplate(file.path)}`),
      file.path,
    );
  }
});

Deno.test("the blog template's placeholders are only {{name}} and {{cli}}", () => {
  for (const file of BLOG_TEMPLATE) {
    for (const [placeholder] of file.text.matchAll(/\{\{[^}]*\}\}/g)) {
      assert.ok(
        ["{{name}}", "{{cli}}"].includes(placeholder),
        `${file.path}: ${placeholder}`,
      );
    }
  }
});

Deno.test("deno publish --dry-run of @sequent/cli includes cli.ts, src/cli and every template", async () => {
  const output = await deno(
    ["publish", "--dry-run", "--allow-dirty", "--config", "deno.cli.json"],
    CHECKOUT,
  );
  assertSucceeded("deno publish --dry-run", output);
  const listed = output.stdout + output.stderr;
  const expected = [
    "cli.ts",
    ...[...Deno.readDirSync(`${CHECKOUT}/src/cli`)].map((e) =>
      `src/cli/${e.name}`
    ),
    ...(await templateFiles(`${CHECKOUT}/templates/blog`)).map((p) =>
      `templates/blog/${p}`
    ),
  ];
  for (const path of expected) {
    assert.ok(
      listed.includes(`${CHECKOUT}/${path} (`),
      `${path} is not published`,
    );
  }
  assert.doesNotMatch(listed, /tests\/cli/);
});
