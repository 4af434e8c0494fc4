import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { fileToolContext } from "../../../test/support/tools.ts";
import { createWorkspaceFixture, type WorkspaceFixture } from "../../../test/support/workspace.ts";
import { ToolInputError } from "../../core/index.ts";
import { readFileTool } from "./read-file.ts";

describe("read_file", () => {
  let fx: WorkspaceFixture;
  const long = Array.from({ length: 2500 }, (_, i) => `line ${i + 1}`).join("\n");
  before(async () => {
    fx = await createWorkspaceFixture({
      files: {
        "src/app.ts": "const a = 1;\r\nconst b = 2;\r\n",
        "src/util.ts": "x\n",
        "src/utils/index.ts": "y\n",
        "long.txt": `${long}\n`,
        "wide.txt": `short\n${"w".repeat(5000)}\nend\n`,
        "empty.txt": "",
        "logo.png": Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0x00, 0x01]),
      },
    });
  });
  after(() => fx.cleanup());
  const read = (input: { path: string; offset?: number; limit?: number }) =>
    readFileTool.execute(input, fileToolContext(fx.workspace));

  it("numbers lines like cat -n, without the file's line endings", async () => {
    const result = await read({ path: "src/app.ts" });
    assert.equal(result.output, "     1→const a = 1;\n     2→const b = 2;");
    assert.equal(result.isError, undefined);
  });

  it("reads 2000 lines by default and says which offset continues", async () => {
    const result = await read({ path: "long.txt" });
    const lines = result.output.split("\n");
    assert.equal(lines[0], "     1→line 1");
    assert.match(result.output, /Read more with offset=\d+\.\)$/);
    const next = Number(/offset=(\d+)/.exec(result.output)![1]);
    const more = await read({ path: "long.txt", offset: next, limit: 3 });
    assert.equal(more.output.split("\n")[0], `${String(next).padStart(6)}→line ${next}`);
    assert.match(
      more.output,
      new RegExp(`Showing lines ${next}–${next + 2} of 2500\\. Read more with offset=${next + 3}\\.`),
    );
  });

  it("reads the tail without a continuation note", async () => {
    const result = await read({ path: "long.txt", offset: 2499 });
    assert.equal(result.output, "  2499→line 2499\n  2500→line 2500");
  });

  it("cuts very long lines and says so", async () => {
    const result = await read({ path: "wide.txt" });
    assert.match(result.output, /^ {5}2→w{2000}… \[line cut: 5000 characters\]$/m);
    assert.match(result.output, /1 line\(s\) longer than 2000 characters were cut/);
    assert.match(result.output, / {5}3→end/);
  });

  it("refuses binary files with a way forward", async () => {
    await assert.rejects(read({ path: "logo.png" }), (e: unknown) => {
      assert.ok(ToolInputError.isInstance(e));
      assert.equal(e.code, "binary_file");
      assert.match(e.message, /run_command/);
      return true;
    });
  });

  it("suggests similarly named files when the file does not exist", async () => {
    await assert.rejects(read({ path: "src/utils.ts" }), (e: unknown) => {
      assert.ok(ToolInputError.isInstance(e));
      assert.match(e.message, /src\/utils.ts does not exist/);
      assert.match(e.message, /Similarly named files: .*src\/util\.ts/);
      assert.match(e.message, /src\/utils\/index\.ts/);
      return true;
    });
  });

  it("reports empty files and offsets past the end", async () => {
    assert.equal((await read({ path: "empty.txt" })).output, "empty.txt is empty (0 lines).");
    await assert.rejects(
      read({ path: "src/app.ts", offset: 10 }),
      /past the end of src\/app.ts, which has 2 line/,
    );
  });

  it("refuses paths outside the workspace", async () => {
    await assert.rejects(
      read({ path: "../repo/src/app.ts" }),
      (e: unknown) => ToolInputError.isInstance(e) && e.code === "path_escape",
    );
  });
});
