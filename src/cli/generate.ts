/**
 * `sequent generate aggregate|command|event …` (alias `g`): adds domain
 * code to an app made by `sequent new`, never overwriting anything.
 *
 * @module
 */
import { join } from "node:path";
import { type AttributeSpec, parseAttributes } from "./attributes.ts";
import { CliError, UsageError } from "./errors.ts";
import { HELP } from "./help.ts";
import type { CliIo } from "./io.ts";
import { className, snakeCase, variableName } from "./names.ts";
import { missing, parseCommand, reportErrors, unexpected } from "./report.ts";
import {
  addExport,
  addImport,
  addToList,
  addToShape,
  addToStaticBlock,
  shapeKeys,
} from "./source.ts";

const KINDS: readonly string[] = ["aggregate", "command", "event"];

/**
 * `sequent generate <aggregate | command | event> …`: see
 * `sequent generate --help`. Runs in an app's folder (`cwd`), writes
 * formatted TypeScript (formatting with `deno fmt`), and refuses to
 * overwrite a file or to reuse a class name.
 *
 * @param cwd The app's folder.
 * @param args The arguments after `generate`, e.g.
 * `["event", "Author", "AuthorNameSet", "name:string"]`.
 * @param io Where to write.
 * @returns The exit code: 0 done, 1 error, 2 wrong usage.
 *
 * @example
 * ```ts
 * import { generateCommand } from "./generate.ts";
 * import { newCommand } from "./new.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const io = { stdout: () => {}, stderr: () => {}, confirm: () => Promise.resolve(false) };
 * await newCommand(dir, ["blog"], io);
 * console.assert((await generateCommand(`${dir}/blog`, ["aggregate", "Author"], io)) === 0);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function generateCommand(
  cwd: string,
  args: readonly string[],
  io: CliIo,
): Promise<number> {
  return reportErrors(io, args, async () => {
    const peek = args.find((arg) => !arg.startsWith("-"));
    const key = peek !== undefined && KINDS.includes(peek)
      ? `generate ${peek}`
      : "generate";
    const { positionals, values } = parseCommand(key, args);
    if (values.help) {
      io.stdout(HELP[key] ?? "");
      return 0;
    }
    const [kind, ...rest] = positionals;
    if (kind === undefined) {
      throw missing(
        "generate",
        "what to generate: aggregate, command or event",
      );
    }
    const generator = new Generator(cwd, io);
    switch (kind) {
      case "aggregate": {
        const [name, ...extra] = rest;
        if (name === undefined) throw missing(key, "the aggregate's name");
        if (extra.length > 0) throw unexpected(key, extra);
        await generator.aggregate(name);
        return 0;
      }
      case "command":
      case "event": {
        const [aggregate, name, ...attributes] = rest;
        if (aggregate === undefined) throw missing(key, "the aggregate's name");
        if (name === undefined) throw missing(key, `the ${kind}'s name`);
        await generator.message(kind, aggregate, name, attributes);
        return 0;
      }
      default:
        throw new UsageError(
          `Unknown generator "${kind}": use aggregate, command or event`,
          HELP["generate"] ?? "",
        );
    }
  });
}

/** A file to write: a new one, or a changed one. */
interface Change {
  readonly path: string;
  readonly text: string;
  readonly isNew: boolean;
  readonly note?: string;
}

class Generator {
  readonly #cwd: string;
  readonly #io: CliIo;

  constructor(cwd: string, io: CliIo) {
    this.#cwd = cwd;
    this.#io = io;
  }

  async aggregate(input: string): Promise<void> {
    const name = checkedClassName("aggregate", input);
    const file = snakeCase(name);
    const v = variableName(name);
    const add = `Add${name}`;
    const added = `${name}Added`;
    const handler = `${name}CommandHandler`;
    const appText = await this.#readApp();
    const paths = {
      module: `lib/${file}.ts`,
      commands: `lib/${file}/commands.ts`,
      events: `lib/${file}/events.ts`,
      aggregate: `lib/${file}/${file}.ts`,
      handler: `lib/${file}/${file}_command_handler.ts`,
      test: `tests/lib/${file}/${file}_command_handler_test.ts`,
    };
    for (const path of [paths.module, `lib/${file}`, paths.test]) {
      if (await this.#exists(path)) {
        throw new CliError(
          `Aggregate ${name} already exists: ${path} is there`,
        );
      }
    }
    for (const cls of [name, add, added, handler]) {
      const where = await this.#classDefinedIn(cls);
      if (where !== undefined) {
        throw new CliError(
          `Cannot generate aggregate ${name}: class ${cls} already exists in ${where}`,
        );
      }
    }

    const changes: Change[] = [
      {
        path: paths.module,
        isNew: true,
        text: `/**
 * The ${name} aggregate: its commands, events, aggregate root and command
 * handler.
 *
 * @module
 */
export { ${add} } from "./${file}/commands.ts";
export { ${added} } from "./${file}/events.ts";
export { ${name} } from "./${file}/${file}.ts";
export { ${handler} } from "./${file}/${file}_command_handler.ts";
`,
      },
      {
        path: paths.commands,
        isNew: true,
        text: `import { Command } from "@sequent/core";

export class ${add} extends Command.define("${add}", {}) {}
`,
      },
      {
        path: paths.events,
        isNew: true,
        text: `import { Event } from "@sequent/core";

export class ${added} extends Event.define("${added}", {}) {}
`,
      },
      {
        path: paths.aggregate,
        isNew: true,
        text: `import { AggregateRoot } from "@sequent/core";
import type { ${add} } from "./commands.ts";
import { ${added} } from "./events.ts";

export class ${name} extends AggregateRoot {
  static add(command: ${add}): ${name} {
    const ${v} = new ${name}(command.aggregateId);
    ${v}.apply(${added});
    return ${v};
  }
}
`,
      },
      {
        path: paths.handler,
        isNew: true,
        text: `import { CommandHandler } from "@sequent/core";
import { ${add} } from "./commands.ts";
import { ${name} } from "./${file}.ts";

export class ${handler} extends CommandHandler {
  static {
    this.on(${add}, (handler, command) => {
      handler.repository.addAggregate(${name}.add(command));
    });
  }
}
`,
      },
      {
        path: paths.test,
        isNew: true,
        text: `import { commandSpec } from "@sequent/core/testing";
import { ${add}, ${added}, ${handler} } from "../../../lib/${file}.ts";

Deno.test("${add} adds ${
          /^[AEIOU]/.test(name) ? "an" : "a"
        } ${name}", async () => {
  const spec = commandSpec({ commandHandlers: [new ${handler}()] });
  const aggregateId = crypto.randomUUID();
  await spec.whenCommand(new ${add}({ aggregateId }));
  spec.thenEvents(new ${added}({ aggregateId, sequenceNumber: 1 }));
});
`,
      },
    ];

    let app: string | undefined = addImport(appText, `./lib/${file}.ts`, [
      name,
      handler,
    ]);
    app = addToList(app, "commandHandlers", [`new ${handler}()`]);
    app = app === undefined ? undefined : addToList(app, "aggregates", [name]);
    if (app === undefined) {
      this.#io.stderr(
        `warning: app.ts has no "commandHandlers: [ … ]" and "aggregates: [ … ]" lists: register new ${handler}() and ${name} in its configuration yourself`,
      );
    } else {
      changes.push({
        path: "app.ts",
        text: app,
        isNew: false,
        note: `registered new ${handler}() and ${name}`,
      });
    }
    await this.#write(changes);
    this.#io.stdout(
      `\nNext: give ${add} attributes, e.g.\n  deno task generate command ${name} ${add} name:string`,
    );
  }

  async message(
    kind: "command" | "event",
    aggregateInput: string,
    input: string,
    attributeArgs: readonly string[],
  ): Promise<void> {
    const aggregate = checkedClassName("aggregate", aggregateInput);
    const name = checkedClassName(kind, input);
    const attributes = parseAttributes(attributeArgs);
    const file = snakeCase(aggregate);
    const Kind = kind === "command" ? "Command" : "Event";
    const listPath = `lib/${file}/${
      kind === "command" ? "commands" : "events"
    }.ts`;
    const listText = await this.#read(listPath);
    if (listText === undefined) {
      throw new CliError(
        `No aggregate ${aggregate}: ${listPath} does not exist (generate it with "sequent generate aggregate ${aggregate}")`,
      );
    }
    const lines = attributes.map((a) => `${a.name}: attrs.${a.type}()`);
    const existing = shapeKeys(listText, name);

    if (existing !== undefined) {
      if (attributes.length === 0) {
        throw new CliError(`${Kind} ${name} already exists in ${listPath}`);
      }
      const taken = attributes.find((a) => existing.includes(a.name));
      if (taken !== undefined) {
        throw new CliError(
          `${Kind} ${name} already has an attribute "${taken.name}" in ${listPath}`,
        );
      }
      const changed = addToShape(
        addImport(listText, "@sequent/core", ["attrs"]),
        name,
        lines,
      );
      if (changed === undefined) {
        throw new CliError(
          `Cannot find the attributes of ${name} in ${listPath}`,
        );
      }
      await this.#write([{
        path: listPath,
        text: changed,
        isNew: false,
        note: `added ${names(attributes)} to ${name}`,
      }]);
      return;
    }

    const where = await this.#classDefinedIn(name);
    if (where !== undefined) {
      throw new CliError(`Class ${name} already exists in ${where}`);
    }
    const shape = lines.length === 0
      ? "{}"
      : `{\n${lines.map((line) => `  ${line},`).join("\n")}\n}`;
    const imports = attributes.length > 0 ? ["attrs", Kind] : [Kind];
    const changes: Change[] = [{
      path: listPath,
      isNew: false,
      note: `added ${Kind.toLowerCase()} ${name}${
        attributes.length > 0 ? ` (${names(attributes)})` : ""
      }`,
      text: `${
        addImport(listText, "@sequent/core", imports).trimEnd()
      }\n\nexport class ${name} extends ${Kind}.define("${name}", ${shape}) {}\n`,
    }];
    const manual: string[] = [];

    const modulePath = `lib/${file}.ts`;
    const moduleText = await this.#read(modulePath);
    if (moduleText === undefined) {
      manual.push(`${modulePath} does not exist: export ${name} yourself`);
    } else {
      changes.push({
        path: modulePath,
        isNew: false,
        note: `exported ${name}`,
        text: addExport(
          moduleText,
          `./${file}/${kind === "command" ? "commands" : "events"}.ts`,
          [name],
        ),
      });
    }

    const v = variableName(aggregate);
    const [targetPath, targetClass, stub, fromHere] = kind === "command"
      ? [
        `lib/${file}/${file}_command_handler.ts`,
        `${aggregate}CommandHandler`,
        `this.on(${name}, async (handler, command) => {
  await handler.doWithAggregate(command, ${aggregate}, (_${v}) => {
    // TODO: apply the events of ${name} with a method of ${aggregate}
  });
});`,
        [["./commands.ts", [name]], [`./${file}.ts`, [aggregate]]] as const,
      ]
      : [
        `lib/${file}/${file}.ts`,
        aggregate,
        `this.on(${name}, (_${v}, _event) => {
  // TODO: keep what ${aggregate} needs to know from ${name}
});`,
        [["./events.ts", [name]]] as const,
      ];
    const targetText = await this.#read(targetPath);
    let target = targetText === undefined
      ? undefined
      : addToStaticBlock(targetText, targetClass, [stub]);
    if (target === undefined) {
      manual.push(
        `cannot find class ${targetClass} in ${targetPath}: add a handler for ${name} yourself`,
      );
    } else {
      for (const [specifier, imported] of fromHere) {
        target = addImport(target, specifier, imported);
      }
      changes.push({
        path: targetPath,
        isNew: false,
        note: `added a handler for ${name} to ${targetClass}, to fill in`,
        text: target,
      });
    }
    await this.#write(changes);
    for (const line of manual) this.#io.stderr(`warning: ${line}`);
  }

  async #readApp(): Promise<string> {
    const text = await this.#read("app.ts");
    if (text === undefined) {
      throw new CliError(
        `No app.ts in ${this.#cwd}: run the generators in an app's folder (one made by "sequent new")`,
      );
    }
    return text;
  }

  async #read(path: string): Promise<string | undefined> {
    try {
      return await Deno.readTextFile(join(this.#cwd, path));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw error;
    }
  }

  async #exists(path: string): Promise<boolean> {
    try {
      await Deno.lstat(join(this.#cwd, path));
      return true;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return false;
      throw error;
    }
  }

  /** The file under `lib/` that declares class (or type name) `name`. */
  async #classDefinedIn(name: string): Promise<string | undefined> {
    const pattern = new RegExp(
      String.raw`\bclass\s+${name}\b|\.define\(\s*["']${name}["']`,
    );
    const walk = async (dir: string): Promise<string | undefined> => {
      let entries: Deno.DirEntry[];
      try {
        entries = await Array.fromAsync(Deno.readDir(join(this.#cwd, dir)));
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) return undefined;
        throw error;
      }
      entries.sort((a, b) => a.name < b.name ? -1 : 1);
      for (const entry of entries) {
        const path = `${dir}/${entry.name}`;
        if (entry.isDirectory) {
          const found = await walk(path);
          if (found !== undefined) return found;
        } else if (entry.isFile && entry.name.endsWith(".ts")) {
          const text = await Deno.readTextFile(join(this.#cwd, path));
          if (pattern.test(text)) return path;
        }
      }
      return undefined;
    };
    return await walk("lib");
  }

  async #write(changes: readonly Change[]): Promise<void> {
    for (const change of changes) {
      const path = join(this.#cwd, change.path);
      if (change.isNew) {
        await Deno.mkdir(join(path, ".."), { recursive: true });
        await Deno.writeTextFile(path, change.text, { createNew: true });
      } else {
        await Deno.writeTextFile(path, change.text);
      }
    }
    await this.#format(changes.map((change) => change.path));
    const created = changes.filter((change) => change.isNew);
    const updated = changes.filter((change) => !change.isNew);
    const lines: string[] = [];
    if (created.length > 0) {
      lines.push("Created:", ...created.map((c) => `  ${c.path}`));
    }
    if (updated.length > 0) {
      lines.push(
        "Updated:",
        ...updated.map((c) => `  ${c.path}${c.note ? ` (${c.note})` : ""}`),
      );
    }
    this.#io.stdout(lines.join("\n"));
  }

  /** Formats the written files with `deno fmt`; warns when it cannot. */
  async #format(paths: readonly string[]): Promise<void> {
    try {
      const output = await new Deno.Command(Deno.execPath(), {
        args: ["fmt", "--quiet", ...paths],
        cwd: this.#cwd,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      if (!output.success) {
        const message = new TextDecoder().decode(output.stderr).trim()
          .split("\n")[0];
        this.#io.stderr(`warning: deno fmt failed: ${message}`);
      }
    } catch (error) {
      this.#io.stderr(
        `warning: could not run deno fmt: ${
          error instanceof Error ? error.message : String(error)
        }`,
      );
    }
  }
}

function names(attributes: readonly AttributeSpec[]): string {
  return attributes.map((a) => `${a.name}: ${a.type}`).join(", ");
}

/** A class name that is also not a JavaScript or Deno global. */
function checkedClassName(what: string, input: string): string {
  const name = className(what, input);
  if (name in globalThis) {
    throw new CliError(
      `"${input}" is not a valid ${what} name: ${name} is a global of JavaScript or Deno`,
    );
  }
  return name;
}
