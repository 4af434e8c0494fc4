import assert from "node:assert/strict";
import { mkdir, readFile, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { createWorkspaceFixture, type WorkspaceFixture } from "../../test/support/workspace.ts";
import { ToolInputError } from "../core/index.ts";

function toolError(code: string, message?: RegExp) {
  return (error: unknown) => {
    assert.ok(ToolInputError.isInstance(error), `expected a ToolInputError, got ${String(error)}`);
    assert.equal(error.code, code);
    if (message) assert.match(error.message, message);
    return true;
  };
}

describe("confined file access", () => {
  let fx: WorkspaceFixture;
  let outside: string;
  before(async () => {
    fx = await createWorkspaceFixture({
      files: {
        "src/a.ts": "one\ntwo\r\nthree\n",
        "link-out": { symlink: "../../repo/src/a.ts" },
        "etc-link": { symlink: "/etc" },
        "docs/inner-link": { symlink: "../src" },
      },
    });
    outside = path.join(fx.base, "outside");
    await mkdir(outside);
    await writeFile(path.join(outside, "secret.txt"), "secret\n");
    // A link the agent could plant with a shell command.
    await symlink(outside, path.join(fx.workspace.dir, "planted"));
  });
  after(() => fx.cleanup());

  it("resolves relative paths inside the workspace", () => {
    const ws = fx.workspace;
    assert.equal(ws.resolve("src/a.ts"), path.join(ws.dir, "src/a.ts"));
    assert.equal(ws.resolve("./src/../src/a.ts"), path.join(ws.dir, "src/a.ts"));
    assert.equal(ws.resolve(""), ws.dir);
    assert.equal(ws.resolve("new/dir/file.ts"), path.join(ws.dir, "new/dir/file.ts"));
    assert.equal(
      ws.resolve("docs/inner-link/a.ts"),
      path.join(ws.dir, "src/a.ts"),
      "links inside are followed",
    );
  });

  it("refuses absolute paths, suggesting the relative form when it is inside", () => {
    assert.throws(
      () => fx.workspace.resolve("/etc/passwd"),
      toolError("path_outside", /outside the workspace \(.+\).*relative to the workspace root/),
    );
    assert.throws(
      () => fx.workspace.resolve(path.join(fx.workspace.dir, "src/a.ts")),
      toolError("path_absolute", /Use "src\/a.ts" instead: paths are relative to the workspace root/),
    );
  });

  it("refuses .. escapes", () => {
    assert.throws(() => fx.workspace.resolve("../shadow.git/config"), toolError("path_escape"));
    assert.throws(() => fx.workspace.resolve("src/../../x"), toolError("path_escape"));
  });

  it("refuses .git", () => {
    assert.throws(() => fx.workspace.resolve(".git/config"), toolError("path_git"));
    assert.throws(() => fx.workspace.resolve("sub/.GIT/hooks"), toolError("path_git"));
  });

  it("refuses symlinks that lead outside, at any component, without following them", async () => {
    assert.throws(
      () => fx.workspace.resolve("planted/secret.txt"),
      toolError("path_symlink_escape", /outside the workspace/),
    );
    assert.throws(() => fx.workspace.resolve("etc-link/passwd"), toolError("path_symlink_escape"));
    assert.throws(() => fx.workspace.resolve("link-out"), toolError("path_symlink_escape"));
    await assert.rejects(fx.workspace.readText("planted/secret.txt"), toolError("path_symlink_escape"));
    await assert.rejects(
      fx.workspace.writeText("planted/secret.txt", "pwned"),
      toolError("path_symlink_escape"),
    );
    await assert.rejects(
      fx.workspace.writeText("planted/new.txt", "pwned"),
      toolError("path_symlink_escape"),
    );
    assert.equal(await readFile(path.join(outside, "secret.txt"), "utf8"), "secret\n");
  });

  it("refuses to write through a symlink even inside the workspace", async () => {
    await symlink("src/a.ts", path.join(fx.workspace.dir, "alias.ts"));
    await assert.rejects(
      fx.workspace.writeText("alias.ts", "x"),
      toolError("path_symlink", /Write to the file it points to/),
    );
    assert.equal(await readFile(path.join(fx.workspace.dir, "src/a.ts"), "utf8"), "one\ntwo\r\nthree\n");
  });

  it("reads text slices with line numbers and the dominant line ending", async () => {
    const slice = await fx.workspace.readText("src/a.ts", { offset: 2, limit: 1 });
    assert.deepEqual(slice, {
      path: "src/a.ts",
      lines: ["two"],
      startLine: 2,
      totalLines: 3,
      eol: "\n",
      bytes: 15,
    });
    await assert.rejects(
      fx.workspace.readText("src/a.ts", { offset: 9 }),
      toolError("offset_out_of_range", /has 3 line/),
    );
    await assert.rejects(fx.workspace.readText("src/missing.ts"), toolError("not_found"));
    await assert.rejects(fx.workspace.readText("src"), toolError("is_directory"));
  });

  it("writes files, creating directories, and reports what changed", async () => {
    assert.deepEqual(await fx.workspace.writeText("out/new.txt", "hello"), {
      path: "out/new.txt",
      created: true,
      bytes: 5,
    });
    assert.deepEqual(await fx.workspace.writeText("out/new.txt", "hi"), {
      path: "out/new.txt",
      created: false,
      bytes: 2,
      previousBytes: 5,
    });
    assert.equal(await readFile(path.join(fx.workspace.dir, "out/new.txt"), "utf8"), "hi");
    assert.equal((await fx.workspace.stat("out"))?.type, "directory");
    assert.equal((await fx.workspace.stat("docs/inner-link"))?.type, "symlink");
    assert.equal(await fx.workspace.stat("nothing"), null);
  });
});
