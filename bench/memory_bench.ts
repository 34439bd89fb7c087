/**
 * In-memory figures: the cost of the framework itself, with no database.
 */
import { CommandService, InMemoryEventStore } from "@sequent/core";
import {
  AddPost,
  EditPost,
  PostCommandHandler,
} from "../tests/fixtures/blog.ts";
import { type Figure, figure, opsPerSecond } from "./figure.ts";

/** AddPost (a new aggregate, four events, the command record), one at a time. */
async function createPost(ms: number): Promise<Figure> {
  const service = new CommandService({
    eventStore: new InMemoryEventStore(),
    commandHandlers: [new PostCommandHandler()],
  });
  const rate = await opsPerSecond(
    () =>
      service.executeCommands(
        new AddPost({
          aggregateId: crypto.randomUUID(),
          author: "ben",
          title: "My first blogpost",
          content: "Hello World!",
        }),
      ),
    ms,
  );
  return figure("memory.create_post.cmds_per_s", rate, "cmds/s");
}

/**
 * One command on an aggregate with 1,000 prior events (every command is
 * its own unit of work). The commands go round a pool of 100 aggregates so
 * each stays close to 1,000 events while measured; the service keeps them
 * between commands (its aggregate cache holds 1,000), so each command
 * reads only what was stored after its kept copy, as an application's
 * would.
 */
async function updateDeep(ms: number): Promise<Figure> {
  const service = new CommandService({
    eventStore: new InMemoryEventStore(),
    commandHandlers: [new PostCommandHandler()],
  });
  const pool: string[] = [];
  for (let p = 0; p < 100; p++) {
    const aggregateId = crypto.randomUUID();
    pool.push(aggregateId);
    await service.executeCommands(
      new AddPost({ aggregateId, author: "ben", title: "t0", content: "c0" }),
    );
    // each EditPost changes title and content: two events, 1,000 in all
    for (let i = 1; i <= 498; i++) {
      await service.executeCommands(
        new EditPost({ aggregateId, title: `t${i}`, content: `c${i}` }),
      );
    }
  }
  let i = 0;
  const rate = await opsPerSecond(
    async () => {
      i++;
      await service.executeCommands(
        new EditPost({
          aggregateId: pool[i % pool.length] as string,
          title: `x${i}`,
          content: `y${i}`,
        }),
      );
    },
    ms,
    5,
  );
  return figure("memory.update_deep.cmds_per_s", rate, "cmds/s");
}

/** Runs the in-memory benchmarks. */
export async function run(ms: number): Promise<Figure[]> {
  return [await createPost(ms), await updateDeep(ms)];
}
