/**
 * A worker that spawns short commands from the moment it is told "go" until
 * told "stop": another thread of the test's process forking children, as a
 * parallel test file or an application's worker does. It posts
 * `"spawning"` once its first command has run, and how many it spawned
 * when stopped.
 */
/// <reference lib="deno.worker" />
let running = true;
self.onmessage = async (message: MessageEvent<string>) => {
  if (message.data === "stop") {
    running = false;
    return;
  }
  let spawned = 0;
  while (running) {
    await new Deno.Command("true", { stdout: "null", stderr: "null" })
      .output();
    if (spawned++ === 0) self.postMessage("spawning");
  }
  self.postMessage(spawned);
};
