/**
 * Values of COPY's text format: every escape read back, and copies that
 * share no memory with their chunk. (Rows split anywhere and rows of the
 * wrong width: replay_decoder_test.ts.)
 */
import assert from "node:assert/strict";
import {
  detachedCopy,
  unescapeCopyText,
} from "../../src/postgres/_copy_text.ts";

Deno.test("every escape PostgreSQL may write is read back", () => {
  assert.equal(
    unescapeCopyText("\\\\ \\b\\f\\n\\r\\t\\v \\101\\x42 \\303\\251 \\q"),
    "\\ \b\f\n\r\t\v AB é q",
  );
  assert.equal(unescapeCopyText("end\\\\"), "end\\");
});

Deno.test("a detached copy has the same characters", () => {
  const chunk = "x".repeat(1000) + "0e4a1c52-8d3f-4b6e-9a17-2f5c8d9e0b31\tzé😀";
  for (const [from, to] of [[1000, 1036], [1037, chunk.length], [3, 3]]) {
    assert.equal(detachedCopy(chunk.slice(from, to)), chunk.slice(from, to));
  }
});
