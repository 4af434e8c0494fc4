import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  addLine,
  editLine,
  lessonsOf,
  parseMemory,
  problemsOf,
  readMemory,
  removeLine,
  serializeMemory,
  writeMemory,
} from "./memory-file.ts";

const TEXT = [
  "# Lessons",
  "",
  "Some prose the team wrote.",
  "- Use the jose library for JWT, not pyjwt. <!-- id: l_ab12 · run_x #42 -->",
  "- Run npm test before finishing",
  "- broken comment <!-- id l_zz -->",
  "```",
  "- not a lesson, inside a code block",
  "```",
  "<!--",
  "- not a lesson either",
  "-->",
  "",
].join("\n");

describe("memory.md", () => {
  it("parses tagged and hand-written bullets and keeps every other line", () => {
    const parsed = parseMemory(TEXT);
    const lessons = lessonsOf({ path: "m", exists: true, ...parsed });
    assert.deepEqual(
      lessons.map((l) => [l.text, l.provenance]),
      [
        ["Use the jose library for JWT, not pyjwt.", "run_x #42"],
        ["Run npm test before finishing", "written in memory.md"],
      ],
    );
    assert.equal(lessons[0]!.id, "l_ab12");
    assert.match(lessons[1]!.id, /^l_[0-9a-z]{4}$/);
    assert.deepEqual(
      problemsOf({ path: "m", exists: true, ...parsed }).map((p) => p.line),
      [6],
    );
    assert.equal(serializeMemory({ path: "m", exists: true, ...parsed }), TEXT);
  });

  it("changes only the lines a command names", () => {
    const dir = mkdtempSync(join(tmpdir(), "entourage-memory-"));
    try {
      mkdirSync(join(dir, ".entourage"));
      writeFileSync(join(dir, ".entourage", "memory.md"), TEXT);
      let file = readMemory(dir);
      const handId = lessonsOf(file)[1]!.id;
      file = editLine(file, handId, "Run npm test before calling finish.");
      file = removeLine(file, "l_ab12");
      file = addLine(file, { id: "l_new1", text: "Prefer small commits.", provenance: "added 2026-01-01" });
      writeMemory(file);
      const after = readFileSync(join(dir, ".entourage", "memory.md"), "utf8");
      assert.equal(
        after,
        TEXT.replace(
          "- Use the jose library for JWT, not pyjwt. <!-- id: l_ab12 · run_x #42 -->\n",
          "",
        ).replace(
          "- Run npm test before finishing\n",
          `- Run npm test before calling finish. <!-- id: ${handId} · written in memory.md -->\n- Prefer small commits. <!-- id: l_new1 · added 2026-01-01 -->\n`,
        ),
      );
      assert.throws(() => removeLine(readMemory(dir), "l_nope"), /No lesson l_nope/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("starts a new file with a header", () => {
    const file = addLine(readMemory("/nonexistent-entourage"), { id: "l_1234", text: "A.", provenance: "p" });
    const text = serializeMemory(file);
    assert.match(text, /^# Lessons for agents working in this repo\n/);
    assert.match(text, /\n- A\. <!-- id: l_1234 · p -->\n$/);
  });
});
