/**
 * Test helpers for applications built with Sequent for Deno, in Sequent's
 * given/when/then words: {@linkcode commandSpec} for command handlers and
 * {@linkcode workflowSpec} for workflows. They run on an in-memory event
 * store by default, and on the database named by `DATABASE_URL` when set.
 *
 * @example
 * ```ts
 * import { commandSpec } from "@sequent/core/testing";
 *
 * const spec = commandSpec({ commandHandlers: [] });
 * ```
 *
 * @module
 */
export {
  type CommandOutcome,
  CommandSpec,
  commandSpec,
  type CommandSpecOptions,
  type ExpectedFailure,
} from "./command_spec.ts";
export type { Expected } from "./expectations.ts";
export {
  ProjectorSpec,
  projectorSpec,
  type ProjectorSpecOptions,
} from "./projector_spec.ts";
export { testEventStore, type TestStoreOptions } from "./test_store.ts";
export {
  WorkflowSpec,
  workflowSpec,
  type WorkflowSpecOptions,
} from "./workflow_spec.ts";
