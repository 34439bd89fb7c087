/**
 * The layout's rules, read off the sources: the core has no import cycle,
 * does no I/O, writes no SQL and imports no adapter or the app layer; an
 * adapter (`src/memory`, `src/postgres`, `src/nats`, `src/otel`) imports neither
 * another adapter nor the app layer; and nothing in the test process changes
 * what test files running beside each other share.
 */
import assert from "node:assert/strict";
import { dirname, join, normalize, relative } from "node:path";

const ROOT = normalize(join(dirname(new URL(import.meta.url).pathname), ".."));

async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(join(ROOT, dir))) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) out.push(...await sources(path));
    else if (entry.name.endsWith(".ts")) out.push(path);
  }
  return out;
}

/** Each source file and the local files it imports (types included). */
async function importGraph(): Promise<Map<string, string[]>> {
  const graph = new Map<string, string[]>();
  for (const file of await sources("src")) {
    const text = await Deno.readTextFile(join(ROOT, file));
    const deps: string[] = [];
    for (
      const m of text.matchAll(
        /^(?:import|export)\b[^;]*?\bfrom\s+"(\.[^"]+)"/gms,
      )
    ) {
      deps.push(relative(ROOT, join(ROOT, dirname(file), m[1]!)));
    }
    graph.set(file, deps);
  }
  return graph;
}

Deno.test("src/core has no import cycle", async () => {
  const graph = await importGraph();
  const cycles: string[] = [];
  const done = new Set<string>();
  const visit = (file: string, path: string[]) => {
    for (const dep of graph.get(file) ?? []) {
      if (!dep.startsWith("src/core/")) continue;
      const at = path.indexOf(dep);
      if (at >= 0) cycles.push([...path.slice(at), dep].join(" → "));
      else if (!done.has(dep)) visit(dep, [...path, dep]);
    }
    done.add(file);
  };
  for (const file of graph.keys()) {
    if (file.startsWith("src/core/")) visit(file, [file]);
  }
  assert.deepEqual(cycles, []);
});

Deno.test("the core imports no adapter and no app code, and adapters import neither each other nor the app", async () => {
  const forbidden: [string, string[]][] = [
    ["src/core/", [
      "src/memory/",
      "src/postgres/",
      "src/nats/",
      "src/otel/",
      "src/app/",
      "src/cli/",
    ]],
    ["src/memory/", ["src/postgres/", "src/nats/", "src/app/", "src/cli/"]],
    ["src/postgres/", ["src/memory/", "src/nats/", "src/app/", "src/cli/"]],
    ["src/nats/", ["src/memory/", "src/postgres/", "src/app/", "src/cli/"]],
    ["src/otel/", [
      "src/memory/",
      "src/postgres/",
      "src/nats/",
      "src/app/",
      "src/cli/",
    ]],
  ];
  const found: string[] = [];
  for (const [file, deps] of await importGraph()) {
    for (const [from, targets] of forbidden) {
      if (!file.startsWith(from)) continue;
      for (const dep of deps) {
        if (targets.some((t) => dep.startsWith(t))) {
          found.push(`${file} → ${dep}`);
        }
      }
    }
  }
  assert.deepEqual(found, []);
});

Deno.test("the core does no I/O: no Deno namespace, no Node I/O modules, outside comments", async () => {
  const found: string[] = [];
  for (const file of await sources("src/core")) {
    const lines = (await Deno.readTextFile(join(ROOT, file))).split("\n");
    lines.forEach((line, i) => {
      if (/^\s*(\/?\*|\/\/)/.test(line)) return;
      if (/\bDeno\.|"node:(fs|net|tls|child_process|os|http)/.test(line)) {
        found.push(`${file}:${i + 1}: ${line.trim()}`);
      }
    });
  }
  assert.deepEqual(found, []);
});

Deno.test("the core writes no SQL: table DDL and column types are the PostgreSQL adapter's", async () => {
  const found: string[] = [];
  for (const file of await sources("src/core")) {
    const lines = (await Deno.readTextFile(join(ROOT, file))).split("\n");
    lines.forEach((line, i) => {
      if (/^\s*(\/?\*|\/\/)/.test(line)) return;
      if (
        /\b(CREATE (TABLE|INDEX)|timestamptz|double precision)\b/.test(line)
      ) {
        found.push(`${file}:${i + 1}: ${line.trim()}`);
      }
    });
  }
  assert.deepEqual(found, []);
});

/** The names an entry file re-exports (values and types). */
async function exportedNames(file: string): Promise<Set<string>> {
  const text = await Deno.readTextFile(join(ROOT, file));
  const names = new Set<string>();
  for (const m of text.matchAll(/^export (?:type )?\{([^}]*)\}/gm)) {
    for (const item of m[1]!.split(",")) {
      const name = item.trim().replace(/^type\s+/, "");
      if (name) names.add(name);
    }
  }
  return names;
}

Deno.test("the root entry exports what applications write, and the plumbing only from @sequent/core/internal", async () => {
  const root = await exportedNames("mod.ts");
  const internal = await exportedNames("src/internal.ts");
  // the internals a new user found in the root (issue 11), among the rest
  for (
    const name of [
      "MessageSerializer",
      "TypeRegistry",
      "InMemoryRecordTransaction",
      "withRecordStore",
      "Progress",
      "COMMIT_EVENTS_COMMAND",
    ]
  ) {
    assert.ok(internal.has(name), `${name} is in @sequent/core/internal`);
  }
  assert.deepEqual([...internal].filter((name) => root.has(name)), []);
  const config = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json")));
  assert.equal(config.exports["./internal"], "./src/internal.ts");
  assert.match(config.tasks["doc:lint"], /src\/internal\.ts/);
});

Deno.test("the blog template and the guide import nothing from @sequent/core/internal", async () => {
  const found: string[] = [];
  const scan = async (dir: string) => {
    for await (const entry of Deno.readDir(join(ROOT, dir))) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory) await scan(path);
      else if (
        (await Deno.readTextFile(join(ROOT, path))).includes(
          "@sequent/core/internal",
        )
      ) found.push(path);
    }
  };
  await scan("templates");
  await scan("docs");
  assert.deepEqual(found, []);
});

Deno.test("nothing run in the test process changes its working directory or a shared environment variable: test files run beside each other (--parallel)", async () => {
  const offenders: string[] = [];
  for (const dir of ["src", "tests"]) {
    for (const file of await sources(dir)) {
      // children (`_*_child.ts`) run in processes of their own
      if (/_child\.ts$/.test(file)) continue;
      const text = await Deno.readTextFile(join(ROOT, file));
      for (
        const m of text.matchAll(
          /\b(?:Deno\.chdir|process\.chdir)\(|\bDeno\.env\.(?:set|delete)\(\s*"/g,
        )
      ) {
        const line = text.slice(0, m.index).split("\n").length;
        offenders.push(`${file}:${line} ${m[0]}`);
      }
    }
  }
  assert.deepEqual(offenders, []);
});
