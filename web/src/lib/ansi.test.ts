import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { PALETTE, parseAnsi, stripAnsi } from "./ansi.ts";

describe("parseAnsi", () => {
  it("turns SGR codes into styles and resets them", () => {
    const segs = parseAnsi("ok \u001b[1;32mPASS\u001b[0m done \u001b[31mFAIL\u001b[39m");
    assert.deepEqual(
      segs.map((s) => [s.text, s.style]),
      [
        ["ok ", {}],
        ["PASS", { bold: true, fg: PALETTE[2] }],
        [" done ", {}],
        ["FAIL", { fg: PALETTE[1] }],
      ],
    );
  });

  it("handles 256 and 24-bit colours and drops other escapes", () => {
    const segs = parseAnsi("\u001b[38;5;196mred\u001b[48;2;1;2;3mbg\u001b[2K\u001b]0;title\u0007!");
    assert.equal(segs[0]!.style.fg, "rgb(255, 0, 0)");
    assert.deepEqual(segs[1], { text: "bg!", style: { fg: "rgb(255, 0, 0)", bg: "rgb(1, 2, 3)" } });
    assert.equal(stripAnsi("\u001b[1mA\u001b[0m\u001b[2KB"), "AB");
  });

  it("never produces markup: text stays text", () => {
    assert.deepEqual(parseAnsi("<img src=x onerror=alert(1)>"), [
      { text: "<img src=x onerror=alert(1)>", style: {} },
    ]);
  });
});
