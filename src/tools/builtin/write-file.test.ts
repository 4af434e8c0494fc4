import assert from "node:assert/strict";
import { readFile, symlink } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { fileToolContext } from "../../../test/support/tools.ts";
import { createWorkspaceFixture, type WorkspaceFixture } from "../../../test/support/workspace.ts";
import { ToolInputError } from "../../core/index.ts";
import { writeFileTool } from "./write-file.ts";

describe("write_file", () => {
  let fx: WorkspaceFixture;
  before(async () => {
    fx = await createWorkspaceFixture({ files: { "README.md": "old readme\n" } });
  });
  after(() => fx.cleanup());
  const write = (input: { path: string; content: string }) =>
    writeFileTool.execute(input, fileToolContext(fx.workspace));

  it("creates a file in new directories and reports it as changed", async () => {
    const result = await write({ path: "src/deep/new.ts", content: "export {};\n" });
    assert.equal(result.output, "Created src/deep/new.ts (11 bytes, 1 line).");
    assert.deepEqual(result.changed, ["src/deep/new.ts"]);
    assert.equal(await readFile(path.join(fx.workspace.dir, "src/deep/new.ts"), "utf8"), "export {};\n");
  });

  it("overwrites an existing file exactly and says what it replaced", async () => {
    const result = await write({ path: "./README.md", content: "# New\r\n\r\nbody" });
    assert.equal(result.output, "Overwrote README.md (11 → 13 bytes, now 3 lines).");
    assert.deepEqual(result.changed, ["README.md"]);
    assert.equal(await readFile(path.join(fx.workspace.dir, "README.md"), "utf8"), "# New\r\n\r\nbody");
    const snap = await fx.workspace.snapshot("write");
    assert.deepEqual(snap?.filesChanged.sort(), ["README.md", "src/deep/new.ts"]);
  });

  it("refuses to write through a symlink or outside the workspace", async () => {
    await symlink("README.md", path.join(fx.workspace.dir, "alias.md"));
    await assert.rejects(
      write({ path: "alias.md", content: "x" }),
      (e: unknown) => ToolInputError.isInstance(e) && e.code === "path_symlink",
    );
    await assert.rejects(
      write({ path: "../outside.txt", content: "x" }),
      (e: unknown) => ToolInputError.isInstance(e) && e.code === "path_escape",
    );
    await assert.rejects(
      write({ path: ".git/config", content: "x" }),
      (e: unknown) => ToolInputError.isInstance(e) && e.code === "path_git",
    );
  });
});
