import assert from "node:assert/strict";
import { HELP } from "../../src/cli/help.ts";
import { runCli } from "../../src/cli/main.ts";
import { newCommand } from "../../src/cli/new.ts";
import { BLOG_TEMPLATE } from "../../src/cli/templates.ts";
import { VERSION } from "../../src/cli/version.ts";
import { CHECKOUT, inTempDir, recorder } from "./_helpers.ts";

const JSR_URL = `https://jsr.io/@sequent/cli/${VERSION}/src/cli/framework.ts`;

async function listFiles(dir: string, prefix = ""): Promise<string[]> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(`${dir}/${prefix}`)) {
    const path = prefix === "" ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory) files.push(...await listFiles(dir, path));
    else files.push(path);
  }
  return files.sort();
}

Deno.test("newCommand() writes the blog app and prints its files and the next steps", async () => {
  await inTempDir(async (dir) => {
    const r = recorder();
    assert.equal(await newCommand(dir, ["blog"], r.io), 0);
    assert.deepEqual(r.stderr, []);
    assert.deepEqual(await listFiles(`${dir}/blog`), [
      ".gitignore",
      "README.md",
      "app.ts",
      "app/projectors/post_projector.ts",
      "app/records/post_records.ts",
      "deno.json",
      "lib/post.ts",
      "lib/post/commands.ts",
      "lib/post/events.ts",
      "lib/post/post.ts",
      "lib/post/post_command_handler.ts",
      "sequent.ts",
      "tests/app/projectors/post_projector_test.ts",
      "tests/lib/post/post_command_handler_test.ts",
      "web/app.ts",
      "web/routes/form_values.ts",
      "web/routes/posts.ts",
      "web/server.ts",
      "web/views/form.ts",
      "web/views/layout.ts",
      "web/views/posts.ts",
    ]);
    const out = r.out();
    assert.match(
      out,
      new RegExp(
        `^Created the app "blog" in blog, using the Sequent checkout in ${CHECKOUT}:\n`,
      ),
    );
    for (const file of BLOG_TEMPLATE) {
      assert.ok(out.includes(`  ${file.path}\n`));
    }
    assert.ok(
      out.endsWith(
        "Next steps:\n  cd blog\n  deno task migrate\n  deno task test\n  deno task start",
      ),
    );

    const readme = await Deno.readTextFile(`${dir}/blog/README.md`);
    assert.ok(readme.startsWith("# blog\n"));
    assert.doesNotMatch(readme, /\{\{/);
    assert.equal(
      await Deno.readTextFile(`${dir}/blog/sequent.ts`),
      BLOG_TEMPLATE.find((f) => f.path === "sequent.ts")?.text,
    );
    assert.match(
      await Deno.readTextFile(`${dir}/blog/.gitignore`),
      /^data\/$/m,
    );
  });
});

Deno.test("newCommand() writes a deno.json with the tasks, strict compiler options and the checkout's imports", async () => {
  await inTempDir(async (dir) => {
    assert.equal(await newCommand(dir, ["blog"], recorder().io), 0);
    const config = JSON.parse(await Deno.readTextFile(`${dir}/blog/deno.json`));
    assert.equal(config.imports["@sequent/core"], `${CHECKOUT}/mod.ts`);
    assert.equal(
      config.imports["@sequent/core/testing"],
      `${CHECKOUT}/src/testing/mod.ts`,
    );
    assert.equal(
      config.imports["@sequent/core/tasks"],
      `${CHECKOUT}/src/app/tasks.ts`,
    );
    const own =
      JSON.parse(await Deno.readTextFile(`${CHECKOUT}/deno.json`)).imports;
    assert.equal(config.imports["postgres"], own["postgres"]);
    assert.equal(
      config.imports["@electric-sql/pglite"],
      own["@electric-sql/pglite"],
    );
    assert.deepEqual(config.tasks, {
      "migrate": "deno run -A sequent.ts migrate",
      "migrate:online": "deno run -A sequent.ts migrate online",
      "migrate:catchup": "deno run -A sequent.ts migrate catchup",
      "migrate:offline": "deno run -A sequent.ts migrate offline",
      "migrate:status": "deno run -A sequent.ts migrate status",
      "db:create": "deno run -A sequent.ts db create",
      "db:drop": "deno run -A sequent.ts db drop",
      "db:create-event-store": "deno run -A sequent.ts db create-event-store",
      "db:create-view-schema": "deno run -A sequent.ts db create-view-schema",
      "snapshots:take": "deno run -A sequent.ts snapshots take",
      "snapshots:delete-all": "deno run -A sequent.ts snapshots delete-all",
      "processors": "deno run -A sequent.ts processors run",
      "processors:status": "deno run -A sequent.ts processors status",
      "browse": "deno run -A sequent.ts browse",
      "start": "deno run -A web/server.ts",
      "generate": `deno run -A ${CHECKOUT}/cli.ts generate`,
      "test": "deno test -P",
    });
    const ours = JSON.parse(await Deno.readTextFile(`${CHECKOUT}/deno.json`));
    assert.deepEqual(config.compilerOptions, ours.compilerOptions);
  });
});

Deno.test("newCommand() writes jsr:@sequent/core imports when the CLI runs from JSR", async () => {
  await inTempDir(async (dir) => {
    const r = recorder();
    assert.equal(
      await newCommand(dir, ["blog"], r.io, { moduleUrl: JSR_URL }),
      0,
    );
    assert.match(r.out(), /using jsr:@sequent\/core:/);
    const config = JSON.parse(await Deno.readTextFile(`${dir}/blog/deno.json`));
    assert.deepEqual(config.imports, {
      "@sequent/core": `jsr:@sequent/core@^${VERSION}`,
      "@sequent/core/testing": `jsr:@sequent/core@^${VERSION}/testing`,
      "@sequent/core/tasks": `jsr:@sequent/core@^${VERSION}/tasks`,
      "@sequent/core/browser": `jsr:@sequent/core@^${VERSION}/browser`,
      "hono": "npm:hono@^4.13.23",
    });
    assert.equal(
      config.tasks.generate,
      `deno run -A jsr:@sequent/cli@^${VERSION} generate`,
    );
  });
});

Deno.test("newCommand() accepts a path, and an existing empty folder", async () => {
  await inTempDir(async (dir) => {
    const nested = recorder();
    assert.equal(await newCommand(dir, ["apps/my-blog"], nested.io), 0);
    assert.ok(
      nested.out().startsWith('Created the app "my-blog" in apps/my-blog'),
    );
    assert.ok(nested.out().includes("  cd apps/my-blog\n"));

    const absolute = recorder();
    assert.equal(await newCommand("/", [`${dir}/abs_blog`], absolute.io), 0);
    assert.ok(absolute.out().includes(`  cd ${dir}/abs_blog\n`));

    await Deno.mkdir(`${dir}/empty`);
    const empty = recorder();
    assert.equal(await newCommand(dir, ["empty"], empty.io), 0);
    assert.ok((await Deno.stat(`${dir}/empty/app.ts`)).isFile);

    await Deno.mkdir(`${dir}/here`);
    const here = recorder();
    assert.equal(await newCommand(`${dir}/here`, ["."], here.io), 0);
    assert.ok(here.out().startsWith('Created the app "here" in .'));
    assert.doesNotMatch(here.out(), /cd /);
  });
});

Deno.test("newCommand() refuses a folder that is not empty, and a file, and writes nothing", async () => {
  await inTempDir(async (dir) => {
    await Deno.mkdir(`${dir}/blog`);
    await Deno.writeTextFile(`${dir}/blog/notes.txt`, "mine");
    const r = recorder();
    assert.equal(await newCommand(dir, ["blog"], r.io), 1);
    assert.deepEqual(r.stderr, [
      'error: Folder "blog" already exists and is not empty: choose another name',
    ]);
    assert.deepEqual([...Deno.readDirSync(`${dir}/blog`)].map((e) => e.name), [
      "notes.txt",
    ]);

    await Deno.writeTextFile(`${dir}/file`, "");
    const f = recorder();
    assert.equal(await newCommand(dir, ["file"], f.io), 1);
    assert.deepEqual(f.stderr, [
      'error: "file" already exists and is not a folder',
    ]);
  });
});

Deno.test("newCommand() rejects a name that is not an identifier in one line", async () => {
  await inTempDir(async (dir) => {
    for (const name of ["2blog", "my blog", "blog!", "-"]) {
      const r = recorder();
      assert.equal(await runCli(dir, ["new", "--", name], r.io), 1, name);
      assert.deepEqual(r.stderr, [
        `error: "${name}" is not a valid app name: use letters, digits, "-" and "_", starting with a letter (e.g. blog)`,
      ]);
    }
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  });
});

Deno.test("newCommand() exits 2 with its usage for a missing or an extra argument", async () => {
  await inTempDir(async (dir) => {
    const none = recorder();
    assert.equal(await newCommand(dir, [], none.io), 2);
    assert.equal(none.err(), `error: Missing the app's name\n\n${HELP["new"]}`);
    const extra = recorder();
    assert.equal(await newCommand(dir, ["blog", "more"], extra.io), 2);
    assert.equal(
      extra.err(),
      `error: Unexpected argument "more"\n\n${HELP["new"]}`,
    );
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  });
});
