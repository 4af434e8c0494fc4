import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { OutputChunk } from "../../sandbox.ts";
import { OutputBuffer } from "./output-buffer.ts";

describe("OutputBuffer", () => {
  it("keeps everything under the cap, interleaved in arrival order", () => {
    const buffer = new OutputBuffer(100);
    buffer.push("stdout", "a\n");
    buffer.push("stderr", "b\n");
    buffer.push("stdout", "c\n");
    assert.deepEqual(buffer.result(), { output: "a\nb\nc\n", truncated: false, droppedBytes: 0 });
  });

  it("keeps the head and the tail and counts the dropped middle", () => {
    const buffer = new OutputBuffer(20);
    buffer.push("stdout", "HEAD-1234\n");
    for (let i = 0; i < 100; i++) buffer.push("stdout", "middle\n");
    buffer.push("stderr", "TAIL-5678\n");
    const { output, truncated, droppedBytes } = buffer.result();
    assert.equal(truncated, true);
    assert.ok(output.startsWith("HEAD-1234\n"));
    assert.ok(output.endsWith("TAIL-5678\n"));
    assert.equal(droppedBytes, 10 + 700 + 10 - 20);
    assert.match(output, new RegExp(`\\[… ${droppedBytes} bytes of output dropped`));
  });

  it("never cuts a UTF-8 character in half", () => {
    const buffer = new OutputBuffer(9);
    buffer.push("stdout", "é".repeat(50));
    const { output } = buffer.result();
    assert.doesNotMatch(output, /\uFFFD/);
    assert.ok(output.startsWith("éé"));
    assert.ok(output.endsWith("éé"));
  });

  it("streams live up to the cap, then one notice", () => {
    const chunks: OutputChunk[] = [];
    const buffer = new OutputBuffer(10, (chunk) => chunks.push(chunk));
    buffer.push("stdout", "12345");
    buffer.push("stderr", "67890abc");
    buffer.push("stdout", "more");
    assert.deepEqual(chunks.slice(0, 2), [
      { stream: "stdout", text: "12345" },
      { stream: "stderr", text: "67890" },
    ]);
    assert.equal(chunks.length, 3);
    assert.match(chunks[2]!.text, /output cap of 10 bytes reached/);
  });
});
