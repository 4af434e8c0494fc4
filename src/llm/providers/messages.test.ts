import assert from "node:assert/strict";
import { test } from "node:test";
import { toSdkMessages } from "./messages.ts";

test("our messages become AI SDK messages: tool calls, text and error results keep their meaning", () => {
  assert.deepEqual(
    toSdkMessages([
      { role: "user", content: "fix it" },
      {
        role: "assistant",
        text: "Trying.",
        toolCalls: [
          { id: "a", name: "read_file", args: { path: "x" } },
          { id: "b", name: "edit_file", args: '{"broken' },
        ],
      },
      {
        role: "tool",
        results: [
          { callId: "a", name: "read_file", output: "content", isError: false },
          { callId: "b", name: "edit_file", output: "arguments are not valid JSON", isError: true },
        ],
      },
      { role: "assistant", text: "", toolCalls: [] },
    ]),
    [
      { role: "user", content: "fix it" },
      {
        role: "assistant",
        content: [
          { type: "text", text: "Trying." },
          { type: "tool-call", toolCallId: "a", toolName: "read_file", input: { path: "x" } },
          // malformed arguments go back as {} (providers require an object); the error result explains
          { type: "tool-call", toolCallId: "b", toolName: "edit_file", input: {} },
        ],
      },
      {
        role: "tool",
        content: [
          {
            type: "tool-result",
            toolCallId: "a",
            toolName: "read_file",
            output: { type: "text", value: "content" },
          },
          {
            type: "tool-result",
            toolCallId: "b",
            toolName: "edit_file",
            output: { type: "error-text", value: "arguments are not valid JSON" },
          },
        ],
      },
    ],
  );
});
