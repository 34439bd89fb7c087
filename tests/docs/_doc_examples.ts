/**
 * Writes the package's documentation examples out as one test file, so
 * that `deno task test` runs them in one isolate instead of one each:
 * every `ts` code block of a JSDoc comment in `mod.ts`, `cli.ts` and
 * `src/`, and of `README.md`, except those marked `ignore`, as
 * `deno test --doc` finds them (about 370). Deno starts an isolate for
 * each test module, some 0.27 s of CPU apiece here, so `deno test --doc`
 * spent about 110 s of CPU on them and this about 15 s.
 *
 * Each example is a module of its own, as under `deno test --doc`: its
 * imports at the top (relative ones resolved from its source file), every
 * export of its source file it does not import itself imported as well
 * (as `deno doc` lists them), `import.meta.url` where `deno test --doc`
 * puts the example (beside its source file), and the rest of its code the
 * body of the test `<file>$<first>-<last>`, after the lines of its fences.
 * They are type-checked with the rest (`deno task check` writes them
 * first) and run by `deno test`, from `tests/docs/doc_examples/`, which is
 * written afresh each time and kept out of git, `fmt` and `lint`.
 *
 * Usage: `deno run -A tests/docs/_doc_examples.ts` (it runs `deno doc`).
 *
 * @module
 */
import { dirname, join, relative } from "node:path";
import { pathToFileURL } from "node:url";

const ROOT = join(dirname(new URL(import.meta.url).pathname), "..", "..");
const OUT = join(ROOT, "tests", "docs", "doc_examples");
const LANGUAGES = new Set(["ts", "typescript", "js", "javascript"]);

/** One code block to run: its fences' lines (1-based) and its code. */
export interface Example {
  readonly first: number;
  readonly last: number;
  readonly code: string;
}

/** The code blocks of a file's JSDoc comments (or of a Markdown file). */
export function examples(path: string, text: string): Example[] {
  const lines = text.split("\n");
  const markdown = path.endsWith(".md");
  const out: Example[] = [];
  let inComment = false;
  let open: { first: number; lines: string[] } | undefined;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    if (!markdown && !inComment) {
      if (/^\s*\/\*\*/.test(raw)) inComment = true;
      else continue;
    }
    const line = markdown ? raw : raw.replace(/^\s*(\/\*\*|\*\/|\*)? ?/, "");
    const fence = /^\s*```\s*([\w-]*)(.*)$/.exec(line);
    if (open) {
      if (fence && fence[1] === "") {
        out.push({
          first: open.first,
          last: i + 2,
          code: open.lines.join("\n"),
        });
        open = undefined;
      } else open.lines.push(line);
    } else if (
      fence && LANGUAGES.has(fence[1]!) &&
      !fence[2]!.split(/\s+/).includes("ignore")
    ) {
      open = { first: i + 1, lines: [] };
    }
    if (!markdown && /\*\//.test(raw)) inComment = false;
  }
  return out;
}

/**
 * The names each file exports (values and types, re-exports included), as
 * `deno doc` reads them: what `deno test --doc` imports into an example.
 */
async function exportedNames(
  files: readonly string[],
): Promise<Map<string, Set<string>>> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--json", ...files],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) {
    throw new Error(
      `deno doc failed: ${new TextDecoder().decode(output.stderr)}`,
    );
  }
  const doc = JSON.parse(new TextDecoder().decode(output.stdout)) as {
    nodes: Record<string, {
      symbols: {
        name: string;
        declarations: { declarationKind: string }[];
      }[];
    }>;
  };
  const out = new Map<string, Set<string>>();
  for (const [url, node] of Object.entries(doc.nodes)) {
    out.set(
      url,
      new Set(
        node.symbols.filter((s) =>
          s.name !== "default" &&
          s.declarations.some((d) => d.declarationKind === "export")
        ).map((s) => s.name),
      ),
    );
  }
  return out;
}

const IMPORT =
  /^import\s+(?:type\s+)?([\s\S]*?)\s+from\s+(["'])([^"']+)\2\s*;?|^import\s+(["'])([^"']+)\4\s*;?/gm;

/** The local names an import clause binds. */
function boundNames(clause: string): string[] {
  const names: string[] = [];
  const ns = /\*\s+as\s+([\w$]+)/.exec(clause);
  if (ns) names.push(ns[1]!);
  const braces = /\{([^}]*)\}/.exec(clause);
  if (braces) {
    for (const part of braces[1]!.split(",")) {
      const name = part.replace(/^\s*type\s+/, "").split(/\s+as\s+/).at(-1)!
        .trim();
      if (name !== "") names.push(name);
    }
  }
  const plain = /^\s*([\w$]+)\s*(?:,|$)/.exec(clause.replace(/^type\s+/, ""));
  if (plain) names.push(plain[1]!);
  return names;
}

/**
 * An example as a module of its own, its body a default function.
 *
 * @param source The source file's absolute path.
 * @param exported What that file exports.
 * @param example The example.
 */
export function exampleModule(
  source: string,
  exported: ReadonlySet<string>,
  example: Example,
): string {
  const imports: string[] = [];
  const bound = new Set<string>();
  const body = example.code.replace(
    IMPORT,
    (
      statement,
      clause: string | undefined,
      _q,
      specifier: string,
      _q2,
      bare: string,
    ) => {
      const target = specifier ?? bare;
      const resolved = target.startsWith(".")
        ? pathToFileURL(join(dirname(source), target)).href
        : target;
      imports.push(statement.replace(target, resolved).replace(/;?\s*$/, ";"));
      if (clause) { for (const name of boundNames(clause)) bound.add(name); }
      return "";
    },
  );
  // a declaration an example exports is the function's own
  const local = body.replace(
    /^export\s+(?=(?:declare\s+)?(?:async\s+)?(?:abstract\s+)?(?:function|class|const|let|var|interface|type|enum)\b)/gm,
    "",
  );
  const auto = [...exported].filter((name) => !bound.has(name)).sort();
  const self = pathToFileURL(source).href;
  // where the example is, as deno test --doc names it: beside its source
  const here = JSON.stringify(`${self}#${example.first}-${example.last}.ts`);
  return [
    "// deno-lint-ignore-file",
    ...imports,
    ...(auto.length > 0 && !source.endsWith(".md")
      ? [`import { ${auto.join(", ")} } from ${JSON.stringify(self)};`]
      : []),
    "export default async function example(): Promise<void> {",
    local.replaceAll("import.meta.url", here),
    "}",
    "",
  ].join("\n");
}

async function sources(): Promise<string[]> {
  const out = ["mod.ts", "cli.ts", "README.md"];
  async function walk(dir: string) {
    for await (const entry of Deno.readDir(join(ROOT, dir))) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory) await walk(path);
      else if (/\.(ts|md)$/.test(entry.name)) out.push(path);
    }
  }
  await walk("src");
  return out.sort();
}

/** Writes the examples' modules and their test files; returns the count. */
export async function writeDocExamples(): Promise<number> {
  await Deno.remove(OUT, { recursive: true }).catch(() => {});
  await Deno.mkdir(OUT, { recursive: true });
  let count = 0;
  const files = await sources();
  const exports = await exportedNames(files.filter((f) => f.endsWith(".ts")));
  const tests: string[] = [
    "// deno-lint-ignore-file",
    "// The package's documentation examples, written by tests/docs/_doc_examples.ts.",
  ];
  for (const file of files) {
    const path = join(ROOT, file);
    const text = await Deno.readTextFile(path);
    const found = examples(file, text);
    if (found.length === 0) continue;
    const exported = exports.get(pathToFileURL(path).href) ?? new Set<string>();
    const stem = file.replace(/\.(ts|md)$/, "").replaceAll(/[^\w]/g, "_");
    for (const example of found) {
      const id = `${stem}_${example.first}_${example.last}`;
      await Deno.writeTextFile(
        join(OUT, `${id}.ts`),
        exampleModule(path, exported, example),
      );
      tests.push(
        `import ${id} from "./${id}.ts";`,
        `Deno.test(${
          JSON.stringify(`${file}$${example.first}-${example.last}`)
        }, ${id});`,
      );
      count++;
    }
  }
  await Deno.writeTextFile(
    join(OUT, "doc_examples_test.ts"),
    tests.join("\n") + "\n",
  );
  return count;
}

if (import.meta.main) {
  const count = await writeDocExamples();
  console.log(`${count} examples written to ${relative(ROOT, OUT)}/`);
}
