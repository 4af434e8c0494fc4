import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { initializeResponse, promptText } from "./agent.ts";

describe("what entourage acp tells the editor and reads from it", () => {
  it("advertises only what it does: no session/load, no images or audio, embedded text context", () => {
    const init = initializeResponse("1.2.3");
    assert.equal(init.protocolVersion, 1);
    assert.deepEqual(init.agentCapabilities, {
      loadSession: false,
      promptCapabilities: { image: false, audio: false, embeddedContext: true },
      mcpCapabilities: { http: false, sse: false },
    });
    assert.equal(init.agentInfo?.version, "1.2.3");
  });

  it("a prompt's text, file references and embedded text files make the task", () => {
    const text = promptText([
      { type: "text", text: "Fix the month in" },
      { type: "resource_link", name: "date.js", uri: "file:///r/src/date.js" },
      {
        type: "resource",
        resource: {
          uri: "file:///r/test/date.test.js",
          text: "assert.equal(formatISODate(d), '2024-01-05');",
        },
      },
    ]);
    assert.match(text, /^Fix the month in\ndate\.js \(file:\/\/\/r\/src\/date\.js\)/);
    assert.match(text, /Context: file:\/\/\/r\/test\/date\.test\.js\n```\nassert\.equal/);
  });

  it("refuses images, audio and an empty prompt with a message", () => {
    assert.throws(
      () => promptText([{ type: "image", data: "aGk=", mimeType: "image/png" }]),
      /not image content/,
    );
    assert.throws(() => promptText([{ type: "audio", data: "aGk=", mimeType: "audio/wav" }]), /not audio/);
    assert.throws(() => promptText([{ type: "text", text: "  " }]), /the prompt is empty/);
  });
});
