/**
 * Where a new app gets `@sequent/core` from: JSR when this CLI runs from
 * JSR, or the local checkout this CLI runs from (so that everything works
 * offline, and the checkout's changes are what the app uses).
 *
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CliError } from "./errors.ts";
import { VERSION } from "./version.ts";

/**
 * How a new app reaches the framework: the import map for its `deno.json`
 * and the command that runs this CLI.
 *
 * @example
 * ```ts
 * import { frameworkSource } from "./framework.ts";
 *
 * const source = frameworkSource("https://jsr.io/@sequent/cli/0.1.0/src/cli/framework.ts");
 * console.assert(source.kind === "jsr");
 * ```
 */
export interface FrameworkSource {
  /** `"jsr"` for the published packages, `"local"` for a checkout. */
  readonly kind: "jsr" | "local";
  /** The app's `imports`: `@sequent/core` and its subpaths, and for a
   * checkout also its npm packages. */
  readonly imports: Readonly<Record<string, string>>;
  /** How to run this CLI from the app, e.g. `jsr:@sequent/cli@^0.1.0`. */
  readonly cli: string;
  /** For a checkout, its folder. */
  readonly checkout?: string;
}

/**
 * The `@sequent/core` subpaths an app imports, and the files they are in
 * a checkout.
 */
const SUBPATHS: ReadonlyArray<readonly [string, string]> = [
  ["", "mod.ts"],
  ["/testing", "src/testing/mod.ts"],
  ["/tasks", "src/app/tasks.ts"],
  ["/browser", "src/browser/mod.ts"],
];

/**
 * Chooses where a new app gets the framework from, by the URL of this
 * module: a `file:` URL means a local checkout two folders up; anything
 * else (`https://jsr.io/…`, `jsr:…`) means the published packages at this
 * CLI's version.
 *
 * @param moduleUrl The URL of this module (`import.meta.url`), or of a
 * module standing in for it in tests.
 * @returns The import map and the CLI command for the app.
 * @throws {CliError} when the checkout's `deno.json` cannot be read.
 *
 * @example Run from JSR
 * ```ts
 * import { frameworkSource } from "./framework.ts";
 *
 * const { imports } = frameworkSource("jsr:@sequent/cli@0.1.0/src/cli/framework.ts");
 * console.assert(imports["@sequent/core"] === "jsr:@sequent/core@^0.1.0");
 * ```
 *
 * @example Run from a checkout
 * ```ts
 * import { frameworkSource } from "./framework.ts";
 *
 * const { kind, imports } = frameworkSource(import.meta.url);
 * console.assert(kind === "local" && imports["@sequent/core"]?.endsWith("/mod.ts"));
 * ```
 */
export function frameworkSource(
  moduleUrl: string = import.meta.url,
): FrameworkSource {
  if (!moduleUrl.startsWith("file:")) return jsrSource();
  const root = fileURLToPath(new URL("../../", moduleUrl));
  const checkout = root.endsWith("/") || root.endsWith("\\")
    ? root.slice(0, -1)
    : root;
  return localSource(checkout);
}

function jsrSource(): FrameworkSource {
  const core = `jsr:@sequent/core@^${VERSION}`;
  return {
    kind: "jsr",
    imports: Object.fromEntries(
      SUBPATHS.map(([subpath]) => [`@sequent/core${subpath}`, core + subpath]),
    ),
    cli: `jsr:@sequent/cli@^${VERSION}`,
  };
}

/** A path usable as an import-map value: POSIX paths as they are. */
function importPath(path: string): string {
  return Deno.build.os === "windows"
    ? new URL(`file:///${path.replaceAll("\\", "/")}`).href
    : path;
}

function localSource(checkout: string): FrameworkSource {
  const configPath = join(checkout, "deno.json");
  let config: unknown;
  try {
    config = JSON.parse(Deno.readTextFileSync(configPath));
  } catch (error) {
    throw new CliError(
      `Cannot read the Sequent checkout's configuration "${configPath}": ${
        error instanceof Error ? error.message : String(error)
      }`,
      { cause: error },
    );
  }
  const imports: Record<string, string> = {};
  for (const [subpath, file] of SUBPATHS) {
    imports[`@sequent/core${subpath}`] = importPath(join(checkout, file));
  }
  // modules of the checkout resolve bare specifiers through the app's
  // import map, so the app needs the checkout's npm packages too
  const own = (config as { imports?: unknown }).imports;
  if (typeof own === "object" && own !== null) {
    for (const [name, target] of Object.entries(own)) {
      if (typeof target === "string" && target.startsWith("npm:")) {
        imports[name] = target;
      }
    }
  }
  return {
    kind: "local",
    imports,
    cli: importPath(join(checkout, "cli.ts")),
    checkout,
  };
}
