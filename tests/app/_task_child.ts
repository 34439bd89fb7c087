/**
 * A task of `runTasks` in a process of its own, as an app's `sequent.ts`
 * runs it (stopped by SIGINT or SIGTERM, logging to the console as an app
 * does by default), for the tests of how long-running tasks end
 * (task_stop_test.ts).
 *
 * Usage: deno run -A _task_child.ts slow <task args…>
 *   An app over an in-memory event store holding one post, whose one
 *   processor takes 1.5 s over each event: it prints `handling` when it
 *   starts on one.
 *
 * Usage: deno run -A _task_child.ts async <url> <task args…>
 *   The app of `_async_app.ts` on `url`, schema `beside`.
 */
import {
  type AppConfig,
  createApp,
  InMemoryEventStore,
  Workflow,
} from "@sequent/core";
import { runTasks } from "@sequent/core/tasks";
import { AddPost, PostAdded, PostCommandHandler } from "../fixtures/blog.ts";
import { asyncAppConfig } from "./_async_app.ts";

class Task_SlowWorkflow extends Workflow {
  static {
    this.on(PostAdded, async () => {
      console.log("handling");
      await new Promise((resolve) => setTimeout(resolve, 1_500));
    });
  }
}

const [mode, ...rest] = Deno.args;
let config: AppConfig;
let args: string[];
if (mode === "slow") {
  config = {
    eventStore: new InMemoryEventStore(),
    commandHandlers: [new PostCommandHandler()],
    processors: [Task_SlowWorkflow],
  };
  await (await createApp(config)).executeCommands(
    new AddPost({
      aggregateId: crypto.randomUUID(),
      author: "a",
      title: "t",
      content: "c",
    }),
  );
  args = rest;
} else {
  const [url = "", ...taskArgs] = rest;
  config = { ...asyncAppConfig(url, "beside"), logger: undefined };
  args = taskArgs;
}
Deno.exit(await runTasks(config, args));
