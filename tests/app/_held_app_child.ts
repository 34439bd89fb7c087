/**
 * The running application of the tests of tasks beside it (tasks_test.ts),
 * or a task of it.
 *
 * Usage: deno run -A _held_app_child.ts <folder> app
 *   Opens the application (version 1) on the folder and prints `ready`,
 *   then executes commands one after the other, adding items and renaming
 *   them, printing `ok add <id> <name>` or `ok rename <id> <name>` once
 *   each has succeeded (`failed <message>` and exit 1 if one fails), until
 *   its standard input closes; then prints `done` and closes.
 *
 * Usage: deno run -A _held_app_child.ts <folder> task <args…>
 *   Runs a database task with version 2 of the application, as its
 *   `sequent.ts` would (`runTasks(config, args)`), and exits with its code.
 */
import { createApp } from "@sequent/core";
import { runTasks } from "@sequent/core/tasks";
import { Held_Add, Held_Rename, heldConfig } from "./_held_app.ts";

const [folder, mode, ...args] = Deno.args as [string, string, ...string[]];

if (mode === "task") {
  Deno.exit(await runTasks(heldConfig(folder, 2), args));
}

const app = await createApp(heldConfig(folder, 1));
console.log("ready");
let stop = false;
const stopped = (async () => {
  for await (const _ of Deno.stdin.readable) {
    // wait for the end of the input
  }
  stop = true;
})();
const ids: string[] = [];
for (let n = 1; !stop; n++) {
  try {
    if (n % 3 === 0 && ids.length > 0) {
      const id = ids[(n * 7) % ids.length]!;
      const name = `renamed ${n}`;
      await app.executeCommands(new Held_Rename({ aggregateId: id, name }));
      console.log(`ok rename ${id} ${name}`);
    } else {
      const id = crypto.randomUUID();
      const name = `item ${n}`;
      await app.executeCommands(new Held_Add({ aggregateId: id, name }));
      ids.push(id);
      console.log(`ok add ${id} ${name}`);
    }
  } catch (error) {
    console.log(`failed ${error instanceof Error ? error.message : error}`);
    Deno.exit(1);
  }
  // as between the requests of a server: PGlite answers without a turn of
  // the event loop, and the processes it serves are heard in those turns
  await new Promise((resolve) => setTimeout(resolve, 0));
}
await stopped;
await app.close();
console.log("done");
