import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { composeProjectContext, readProjectInstructions } from "./project-context.ts";

const repo = mkdtempSync(join(tmpdir(), "entourage-context-"));
after(() => rmSync(repo, { recursive: true, force: true }));

describe("project context", () => {
  it("reads AGENTS.md and .entourage/instructions.md, capping each with a note the agents read", async () => {
    assert.deepEqual(await readProjectInstructions(repo), []);
    writeFileSync(join(repo, "AGENTS.md"), `Use pnpm.\n${"x".repeat(100)}`);
    mkdirSync(join(repo, ".entourage"));
    writeFileSync(join(repo, ".entourage", "instructions.md"), "  \n");
    const docs = await readProjectInstructions(repo, 20);
    assert.deepEqual(docs, [{ file: "AGENTS.md", text: "Use pnpm.\nxxxxxxxxxx", truncatedFrom: 110 }]);
    const context = composeProjectContext({ instructions: docs, lessons: "- Use jose, not pyjwt." });
    assert.equal(
      context,
      "## Project instructions (from AGENTS.md)\n\nUse pnpm.\nxxxxxxxxxx\n\n" +
        "[Only the first 20 of 110 characters of AGENTS.md are shown here; read the rest with read_file if you need it.]\n\n" +
        "## Lessons from earlier corrections on this project (from .entourage/memory.md)\n\n- Use jose, not pyjwt.",
    );
  });

  it("is undefined when there is nothing to say, so the system prompt stays the role alone", () => {
    assert.equal(composeProjectContext({}), undefined);
    assert.equal(composeProjectContext({ instructions: [], lessons: "  " }), undefined);
  });
});
