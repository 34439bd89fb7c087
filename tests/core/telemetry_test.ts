/**
 * The telemetry port as the command service uses it: a telemetry that
 * says it records nothing (`recording()` false) is asked once per unit of
 * work and called for nothing else; one that records, or does not say,
 * gets the command, its commit and the inline dispatch.
 */
import assert from "node:assert/strict";
import {
  CommandService,
  EventHandler,
  InMemoryEventStore,
  type Telemetry,
} from "@sequent/core";
import { AddPost, PostAdded, PostCommandHandler } from "../fixtures/blog.ts";

/** A telemetry that lists its calls; `recording` as given. */
function listing(recording: boolean | undefined): {
  telemetry: Telemetry;
  calls: string[];
} {
  const calls: string[] = [];
  const telemetry: Telemetry = {
    command: (type, work) => {
      calls.push(`command ${type}`);
      return work(undefined);
    },
    commit: (info, work) => {
      calls.push(`commit ${info.events}`);
      return work();
    },
    dispatch: (events, work) => {
      calls.push(`dispatch ${events}`);
      return work(undefined);
    },
    processBatch: (_info, work) => work(),
    replay: (_projectors, work) => work(),
    send: (_info, work) => work(() => undefined),
    optimisticLockConflict: () => {},
    consumerLag: () => {},
    outboxLag: () => {},
    replayProgress: () => {},
    observeHorizon: () => () => {},
  };
  if (recording !== undefined) {
    telemetry.recording = () => {
      calls.push("recording");
      return recording;
    };
  }
  return { telemetry, calls };
}

/** Sees each post added (an inline handler: the dispatch has a target). */
class Seen extends EventHandler {
  static readonly ids: string[] = [];
  static {
    this.on(PostAdded, (_h, e) => {
      Seen.ids.push(e.aggregateId);
    });
  }
}

async function addPost(telemetry: Telemetry): Promise<string> {
  const service = new CommandService({
    eventStore: new InMemoryEventStore(),
    commandHandlers: [new PostCommandHandler()],
    eventHandlers: [new Seen()],
    telemetry,
  });
  const id = crypto.randomUUID();
  await service.executeCommands(
    new AddPost({ aggregateId: id, author: "ben", title: "t", content: "c" }),
  );
  assert.ok(Seen.ids.includes(id), "the handler saw the post");
  return id;
}

Deno.test("a telemetry recording nothing is asked once per unit of work, and called for nothing else", async () => {
  const { telemetry, calls } = listing(false);
  await addPost(telemetry);
  assert.deepEqual(calls, ["recording"]);
});

Deno.test("a telemetry that records, or does not say, gets the command, its commit and the inline dispatch", async () => {
  for (const recording of [true, undefined]) {
    const { telemetry, calls } = listing(recording);
    await addPost(telemetry);
    assert.deepEqual(
      calls.filter((c) => c !== "recording").sort(),
      ["command AddPost", "commit 4", "dispatch 4"],
      `recording: ${recording}`,
    );
    assert.equal(
      calls.filter((c) => c === "recording").length,
      recording ? 1 : 0,
    );
  }
});
