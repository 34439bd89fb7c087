import assert from "node:assert/strict";
import { HELP } from "../../src/cli/help.ts";
import { runCli } from "../../src/cli/main.ts";
import { newCommand } from "../../src/cli/new.ts";
import { deno, inTempDir, recorder } from "./_helpers.ts";

/** Runs `fn` with the folder of a new blog app. */
function inNewApp(fn: (app: string) => Promise<void>): Promise<void> {
  return inTempDir(async (dir) => {
    assert.equal(await newCommand(dir, ["blog"], recorder().io), 0);
    await fn(`${dir}/blog`);
  });
}

async function generate(app: string, ...args: string[]) {
  const r = recorder();
  const code = await runCli(app, ["generate", ...args], r.io);
  return { code, out: r.out(), err: r.err(), stderr: r.stderr };
}

const read = (app: string, path: string) => Deno.readTextFile(`${app}/${path}`);

/** All files of the app with their text, to show that nothing changed. */
async function snapshot(app: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  const walk = async (dir: string) => {
    for await (const entry of Deno.readDir(`${app}/${dir}`)) {
      const path = dir === "" ? entry.name : `${dir}/${entry.name}`;
      if (entry.isDirectory) await walk(path);
      else files.set(path, await read(app, path));
    }
  };
  await walk("");
  return files;
}

Deno.test("generate aggregate writes the aggregate's files and a test, and registers it in app.ts", async () => {
  await inNewApp(async (app) => {
    const result = await generate(app, "aggregate", "Author");
    assert.equal(result.code, 0, result.err);
    assert.equal(result.err, "");
    assert.equal(
      result.out,
      `Created:
  lib/author.ts
  lib/author/commands.ts
  lib/author/events.ts
  lib/author/author.ts
  lib/author/author_command_handler.ts
  tests/lib/author/author_command_handler_test.ts
Updated:
  app.ts (registered new AuthorCommandHandler() and Author)

Next: give AddAuthor attributes, e.g.
  deno task generate command Author AddAuthor name:string`,
    );
    assert.equal(
      await read(app, "lib/author/commands.ts"),
      `import { Command } from "@sequent/core";

export class AddAuthor extends Command.define("AddAuthor", {}) {}
`,
    );
    assert.equal(
      await read(app, "lib/author/events.ts"),
      `import { Event } from "@sequent/core";

export class AuthorAdded extends Event.define("AuthorAdded", {}) {}
`,
    );
    assert.equal(
      await read(app, "lib/author/author.ts"),
      `import { AggregateRoot } from "@sequent/core";
import type { AddAuthor } from "./commands.ts";
import { AuthorAdded } from "./events.ts";

export class Author extends AggregateRoot {
  static add(command: AddAuthor): Author {
    const author = new Author(command.aggregateId);
    author.apply(AuthorAdded);
    return author;
  }
}
`,
    );
    assert.equal(
      await read(app, "lib/author/author_command_handler.ts"),
      `import { CommandHandler } from "@sequent/core";
import { AddAuthor } from "./commands.ts";
import { Author } from "./author.ts";

export class AuthorCommandHandler extends CommandHandler {
  static {
    this.on(AddAuthor, (handler, command) => {
      handler.repository.addAggregate(Author.add(command));
    });
  }
}
`,
    );
    assert.match(
      await read(app, "lib/author.ts"),
      /export \{ AddAuthor \} from "\.\/author\/commands\.ts";\nexport \{ AuthorAdded \} from "\.\/author\/events\.ts";\nexport \{ Author \} from "\.\/author\/author\.ts";\nexport \{ AuthorCommandHandler \} from "\.\/author\/author_command_handler\.ts";\n$/,
    );
    assert.match(
      await read(app, "tests/lib/author/author_command_handler_test.ts"),
      /Deno\.test\("AddAuthor adds an Author"/,
    );
    const config = await read(app, "app.ts");
    assert.match(
      config,
      /^import \{ Author, AuthorCommandHandler \} from "\.\/lib\/author\.ts";$/m,
    );
    assert.match(
      config,
      /commandHandlers: \[\n {4}new PostCommandHandler\(\),\n {4}new AuthorCommandHandler\(\),\n {2}\],/,
    );
    assert.match(config, /aggregates: \[\n {4}Post,\n {4}Author,\n {2}\],/);
  });
});

Deno.test("generate aggregate takes snake_case and lower-case names, and g is short for generate", async () => {
  await inNewApp(async (app) => {
    const r = recorder();
    assert.equal(
      await runCli(app, ["g", "aggregate", "blog_post"], r.io),
      0,
      r.err(),
    );
    const aggregate = await read(app, "lib/blog_post/blog_post.ts");
    assert.match(aggregate, /export class BlogPost extends AggregateRoot/);
    assert.match(
      aggregate,
      /const blogPost = new BlogPost\(command\.aggregateId\);/,
    );
    assert.ok(
      (await Deno.stat(`${app}/lib/blog_post/blog_post_command_handler.ts`))
        .isFile,
    );
    assert.ok(
      (await Deno.stat(
        `${app}/tests/lib/blog_post/blog_post_command_handler_test.ts`,
      )).isFile,
    );
    assert.equal((await generate(app, "aggregate", "author")).code, 0);
    assert.match(await read(app, "lib/author.ts"), /export \{ Author \}/);
  });
});

Deno.test("generate aggregate refuses an existing aggregate or class name and changes nothing", async () => {
  await inNewApp(async (app) => {
    const post = await snapshot(app);
    const again = await generate(app, "aggregate", "Post");
    assert.equal(again.code, 1);
    assert.deepEqual(again.stderr, [
      "error: Aggregate Post already exists: lib/post.ts is there",
    ]);
    assert.deepEqual(await snapshot(app), post);

    await Deno.writeTextFile(
      `${app}/lib/extra.ts`,
      "export class AddAuthor {}\n",
    );
    const before = await snapshot(app);
    const clash = await generate(app, "aggregate", "Author");
    assert.equal(clash.code, 1);
    assert.deepEqual(clash.stderr, [
      "error: Cannot generate aggregate Author: class AddAuthor already exists in lib/extra.ts",
    ]);
    assert.deepEqual(await snapshot(app), before);
  });
});

Deno.test("generate aggregate rejects a bad class name in one line", async () => {
  await inNewApp(async (app) => {
    const before = await snapshot(app);
    const cases: [string, string][] = [
      [
        "1Author",
        '"1Author" is not a valid aggregate name: use letters, digits and "_", starting with a letter (e.g. Author)',
      ],
      [
        "Blog-Post",
        '"Blog-Post" is not a valid aggregate name: use letters, digits and "_", starting with a letter (e.g. Author)',
      ],
      [
        "Event",
        '"Event" is not a valid aggregate name: Event is a class of @sequent/core',
      ],
      [
        "date",
        '"date" is not a valid aggregate name: Date is a global of JavaScript or Deno',
      ],
    ];
    for (const [name, message] of cases) {
      const result = await generate(app, "aggregate", name);
      assert.equal(result.code, 1, name);
      assert.deepEqual(result.stderr, [`error: ${message}`]);
    }
    assert.deepEqual(await snapshot(app), before);
  });
});

Deno.test("generate aggregate warns, and still writes the aggregate, when app.ts has no lists to register it in", async () => {
  await inNewApp(async (app) => {
    await Deno.writeTextFile(`${app}/app.ts`, "export const config = {};\n");
    const result = await generate(app, "aggregate", "Author");
    assert.equal(result.code, 0);
    assert.deepEqual(result.stderr, [
      'warning: app.ts has no "commandHandlers: [ … ]" and "aggregates: [ … ]" lists: register new AuthorCommandHandler() and Author in its configuration yourself',
    ]);
    assert.equal(await read(app, "app.ts"), "export const config = {};\n");
    assert.ok((await Deno.stat(`${app}/lib/author.ts`)).isFile);
  });
});

Deno.test("generate command adds a command with typed attributes, its re-export and a handler to fill in", async () => {
  await inNewApp(async (app) => {
    const result = await generate(
      app,
      "command",
      "Post",
      "PublishPost",
      "publication_date:date",
      "at:date_time",
      "sticky:boolean",
    );
    assert.equal(result.code, 0, result.err);
    assert.equal(
      result.out,
      `Updated:
  lib/post/commands.ts (added command PublishPost (publicationDate: date, at: dateTime, sticky: boolean))
  lib/post.ts (exported PublishPost)
  lib/post/post_command_handler.ts (added a handler for PublishPost to PostCommandHandler, to fill in)`,
    );
    assert.ok(
      (await read(app, "lib/post/commands.ts")).endsWith(`
export class PublishPost extends Command.define("PublishPost", {
  publicationDate: attrs.date(),
  at: attrs.dateTime(),
  sticky: attrs.boolean(),
}) {}
`),
    );
    assert.match(
      await read(app, "lib/post.ts"),
      /export \{ AddPost, PublishPost \} from "\.\/post\/commands\.ts";/,
    );
    const handler = await read(app, "lib/post/post_command_handler.ts");
    assert.match(
      handler,
      /^import \{ AddPost, PublishPost \} from "\.\/commands\.ts";$/m,
    );
    assert.ok(
      handler.includes(`    this.on(PublishPost, async (handler, command) => {
      await handler.doWithAggregate(command, Post, (_post) => {
        // TODO: apply the events of PublishPost with a method of Post
      });
    });
  }
}
`),
    );
  });
});

Deno.test("generate command without attributes adds an empty command, importing no attrs", async () => {
  await inNewApp(async (app) => {
    assert.equal((await generate(app, "aggregate", "Author")).code, 0);
    const result = await generate(app, "command", "Author", "ArchiveAuthor");
    assert.equal(result.code, 0, result.err);
    assert.equal(
      await read(app, "lib/author/commands.ts"),
      `import { Command } from "@sequent/core";

export class AddAuthor extends Command.define("AddAuthor", {}) {}

export class ArchiveAuthor extends Command.define("ArchiveAuthor", {}) {}
`,
    );
  });
});

Deno.test("generate command adds attributes to an existing command instead of overwriting it; as in Sequent's guide, an attribute without a type is a string", async () => {
  await inNewApp(async (app) => {
    assert.equal((await generate(app, "aggregate", "Author")).code, 0);
    const result = await generate(
      app,
      "command",
      "Author",
      "AddAuthor",
      "name",
      "email",
    );
    assert.equal(result.code, 0, result.err);
    assert.equal(
      result.out,
      "Updated:\n  lib/author/commands.ts (added name: string, email: string to AddAuthor)",
    );
    assert.equal(
      await read(app, "lib/author/commands.ts"),
      `import { attrs, Command } from "@sequent/core";

export class AddAuthor extends Command.define("AddAuthor", {
  name: attrs.string(),
  email: attrs.string(),
}) {}
`,
    );
  });
});

Deno.test("generate command refuses an existing command without attributes, and an existing attribute", async () => {
  await inNewApp(async (app) => {
    const before = await snapshot(app);
    const again = await generate(app, "command", "Post", "AddPost");
    assert.equal(again.code, 1);
    assert.deepEqual(again.stderr, [
      "error: Command AddPost already exists in lib/post/commands.ts",
    ]);
    const attribute = await generate(
      app,
      "command",
      "Post",
      "AddPost",
      "tags:json",
      "title:string",
    );
    assert.equal(attribute.code, 1);
    assert.deepEqual(attribute.stderr, [
      'error: Command AddPost already has an attribute "title" in lib/post/commands.ts',
    ]);
    const elsewhere = await generate(app, "event", "Post", "AddPost");
    assert.equal(elsewhere.code, 1);
    assert.deepEqual(elsewhere.stderr, [
      "error: Class AddPost already exists in lib/post/commands.ts",
    ]);
    assert.deepEqual(await snapshot(app), before);
  });
});

Deno.test("generate command rejects an unknown type, listing the known types, and changes nothing", async () => {
  await inNewApp(async (app) => {
    const before = await snapshot(app);
    const result = await generate(
      app,
      "command",
      "Post",
      "PublishPost",
      "at:timestamp",
    );
    assert.equal(result.code, 1);
    assert.deepEqual(result.stderr, [
      'error: Unknown attribute type "timestamp" in "at:timestamp": use one of string, integer, float, boolean, decimal, date, dateTime, uuid, json',
    ]);
    assert.deepEqual(await snapshot(app), before);
  });
});

Deno.test("generate command and event refuse an unknown aggregate, and a bad class name", async () => {
  await inNewApp(async (app) => {
    for (const kind of ["command", "event"]) {
      const result = await generate(app, kind, "Author", "AddAuthor");
      assert.equal(result.code, 1);
      assert.deepEqual(result.stderr, [
        `error: No aggregate Author: lib/author/${
          kind === "command" ? "commands" : "events"
        }.ts does not exist (generate it with "sequent generate aggregate Author")`,
      ]);
      const bad = await generate(app, kind, "Post", "Publish-Post");
      assert.equal(bad.code, 1);
      assert.deepEqual(bad.stderr, [
        `error: "Publish-Post" is not a valid ${kind} name: use letters, digits and "_", starting with a letter (e.g. Author)`,
      ]);
    }
  });
});

Deno.test("generate event adds an event, its re-export and a handler in the aggregate to fill in", async () => {
  await inNewApp(async (app) => {
    const result = await generate(
      app,
      "event",
      "Post",
      "PostPublished",
      "publicationDate:date",
    );
    assert.equal(result.code, 0, result.err);
    assert.equal(
      result.out,
      `Updated:
  lib/post/events.ts (added event PostPublished (publicationDate: date))
  lib/post.ts (exported PostPublished)
  lib/post/post.ts (added a handler for PostPublished to Post, to fill in)`,
    );
    assert.ok((await read(app, "lib/post/events.ts")).endsWith(`
export class PostPublished extends Event.define("PostPublished", {
  publicationDate: attrs.date(),
}) {}
`));
    assert.match(
      await read(app, "lib/post.ts"),
      / {2}PostPublished,\n {2}PostTitleChanged,\n\} from "\.\/post\/events\.ts";/,
    );
    const post = await read(app, "lib/post/post.ts");
    assert.match(
      post,
      /PostContentChanged,\n {2}PostPublished,\n {2}PostTitleChanged,\n\} from "\.\/events\.ts";/,
    );
    assert.ok(post.endsWith(`    this.on(PostPublished, (_post, _event) => {
      // TODO: keep what Post needs to know from PostPublished
    });
  }
}
`));
  });
});

Deno.test("generate event works where Sequent's does not: it writes an event, not a command", async () => {
  await inNewApp(async (app) => {
    assert.equal((await generate(app, "aggregate", "Author")).code, 0);
    const commands = await read(app, "lib/author/commands.ts");
    assert.equal(
      (await generate(app, "event", "Author", "AuthorNameSet", "name:string"))
        .code,
      0,
    );
    assert.equal(await read(app, "lib/author/commands.ts"), commands);
    assert.match(
      await read(app, "lib/author/events.ts"),
      /export class AuthorNameSet extends Event\.define\("AuthorNameSet", \{\n {2}name: attrs\.string\(\),\n\}\) \{\}/,
    );
    assert.match(
      await read(app, "lib/author/author.ts"),
      /static \{\n {4}this\.on\(AuthorNameSet, \(_author, _event\) => \{/,
    );
  });
});

Deno.test("generate event adds attributes to an existing event", async () => {
  await inNewApp(async (app) => {
    const result = await generate(
      app,
      "event",
      "Post",
      "PostAdded",
      "tags:json",
    );
    assert.equal(result.code, 0, result.err);
    assert.equal(
      result.out,
      "Updated:\n  lib/post/events.ts (added tags: json to PostAdded)",
    );
    assert.match(
      await read(app, "lib/post/events.ts"),
      /export class PostAdded extends Event\.define\("PostAdded", \{\n {2}tags: attrs\.json\(\),\n\}\) \{\}/,
    );
  });
});

Deno.test("generate runs only in an app's folder", async () => {
  await inTempDir(async (dir) => {
    const result = await generate(dir, "aggregate", "Author");
    assert.equal(result.code, 1);
    assert.deepEqual(result.stderr, [
      `error: No app.ts in ${dir}: run the generators in an app's folder (one made by "sequent new")`,
    ]);
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  });
});

Deno.test("generate exits 2 with the usage for a missing argument or an unknown generator", async () => {
  await inNewApp(async (app) => {
    const cases: [string[], string, string][] = [
      [[], "Missing what to generate: aggregate, command or event", "generate"],
      [["aggregate"], "Missing the aggregate's name", "generate aggregate"],
      [
        ["aggregate", "A", "B"],
        'Unexpected argument "B"',
        "generate aggregate",
      ],
      [["command"], "Missing the aggregate's name", "generate command"],
      [["command", "Post"], "Missing the command's name", "generate command"],
      [["event", "Post"], "Missing the event's name", "generate event"],
      [
        ["projector", "Post"],
        'Unknown generator "projector": use aggregate, command or event',
        "generate",
      ],
    ];
    for (const [args, message, help] of cases) {
      const result = await generate(app, ...args);
      assert.equal(result.code, 2, args.join(" "));
      assert.equal(result.err, `error: ${message}\n\n${HELP[help]}`);
    }
  });
});

Deno.test("generated code is formatted and lint-free", async () => {
  await inNewApp(async (app) => {
    for (
      const args of [
        ["aggregate", "Author"],
        ["command", "Author", "AddAuthor", "name:string", "email:string"],
        ["event", "Author", "AuthorNameSet", "name:string"],
        [
          "command",
          "Author",
          "ChangeAuthorEmailAddressBecauseItChanged",
          "email_address:string",
          "at:datetime",
        ],
        [
          "event",
          "Author",
          "AuthorEmailAddressChangedForSomeVeryLongReason",
          "emailAddress:string",
        ],
        [
          "event",
          "Author",
          "AuthorAdded",
          "n:integer",
          "f:float",
          "d:decimal",
          "u:uuid",
          "j:json",
        ],
      ]
    ) {
      const result = await generate(app, ...args);
      assert.equal(result.code, 0, result.err);
      assert.equal(result.err, "");
    }
    const fmt = await deno(["fmt", "--check"], app);
    assert.equal(fmt.code, 0, fmt.stderr);
    const lint = await deno(["lint"], app);
    assert.equal(lint.code, 0, lint.stdout + lint.stderr);
  });
});
