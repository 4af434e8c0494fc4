import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { fileToolContext } from "../../../test/support/tools.ts";
import { createWorkspaceFixture, type WorkspaceFixture } from "../../../test/support/workspace.ts";
import { ToolInputError } from "../../core/index.ts";
import { listFilesTool } from "./list-files.ts";

describe("list_files", () => {
  let fx: WorkspaceFixture;
  before(async () => {
    const files: Record<string, string> = {
      ".gitignore": "node_modules/\n*.log\n",
      "package.json": "{}\n",
      "src/index.ts": "",
      "src/index.test.ts": "",
      "src/ui/button.tsx": "",
    };
    for (let i = 0; i < 1005; i++) files[`data/item-${String(i).padStart(4, "0")}.json`] = "{}";
    fx = await createWorkspaceFixture({ files });
    await writeFile(path.join(fx.workspace.dir, "src", "fresh.ts"), "");
    await writeFile(path.join(fx.workspace.dir, "debug.log"), "");
  });
  after(() => fx.cleanup());
  const list = (input: { pattern?: string; path?: string }) =>
    listFilesTool.execute(input, fileToolContext(fx.workspace));

  it("lists sorted paths under a directory, new files included", async () => {
    const result = await list({ path: "src" });
    assert.equal(
      result.output,
      ["src/fresh.ts", "src/index.test.ts", "src/index.ts", "src/ui/button.tsx"].join("\n"),
    );
  });

  it("matches globs at any depth or from the path", async () => {
    assert.equal((await list({ pattern: "*.ts" })).output, "src/fresh.ts\nsrc/index.test.ts\nsrc/index.ts");
    assert.equal((await list({ pattern: "src/**/*.{ts,tsx}" })).output.split("\n").length, 4);
    assert.equal((await list({ pattern: "ui/*.tsx", path: "src" })).output, "src/ui/button.tsx");
  });

  it("respects .gitignore", async () => {
    assert.equal((await list({ pattern: "*.log" })).output, 'No files matching "*.log".');
  });

  it("caps the listing at 1000 entries with a note", async () => {
    const result = await list({});
    const lines = result.output.split("\n");
    assert.equal(lines.length, 1000 + 2);
    assert.match(
      lines.at(-1)!,
      /^\(Showing 1000 of 1011 files\. Narrow the listing with path or pattern\.\)$/,
    );
    assert.equal(result.metadata?.truncated, true);
  });

  it("reports a missing directory and refuses escapes", async () => {
    await assert.rejects(list({ path: "lib" }), /lib does not exist in the project/);
    await assert.rejects(
      list({ pattern: "../**" }),
      (e: unknown) => ToolInputError.isInstance(e) && e.code === "pattern_escape",
    );
    await assert.rejects(
      list({ path: "/etc" }),
      (e: unknown) => ToolInputError.isInstance(e) && e.code === "path_outside",
    );
  });
});
