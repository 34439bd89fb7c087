/**
 * The CLI's version, which is also the version of `@sequent/core` that new
 * apps depend on (the two packages are released together).
 *
 * @module
 */

/**
 * The version of `@sequent/cli`, equal to the `version` in `deno.cli.json`
 * and in `deno.json` (`@sequent/core`); a test keeps them equal.
 *
 * @example
 * ```ts
 * import { VERSION } from "./version.ts";
 *
 * console.assert(/^\d+\.\d+\.\d+/.test(VERSION));
 * ```
 */
export const VERSION: string = "0.1.0";
