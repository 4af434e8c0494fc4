import assert from "node:assert/strict";
import {
  lstat,
  mkdir,
  readdir,
  readFile,
  readlink,
  rm,
  stat,
  symlink,
  unlink,
  writeFile,
} from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { createWorkspaceFixture, testGit, type WorkspaceFixture } from "../../test/support/workspace.ts";
import { UserError } from "../core/index.ts";
import { withExecutableBit } from "./apply.ts";

const BINARY = Buffer.from([0x00, 0x01, 0x02, 0xff, 0xfe, 0x00, 0x42]);

describe("applyTo", () => {
  let fx: WorkspaceFixture;
  beforeEach(async () => {
    fx = await createWorkspaceFixture({
      files: {
        "src/a.ts": "export const a = 1;\n",
        "src/keep.ts": "keep\n",
        "old.txt": "old\n",
        "tool.sh": { content: "#!/bin/sh\n", mode: 0o755 },
      },
    });
  });
  afterEach(() => fx.cleanup());

  async function makeChange() {
    const ws = fx.workspace;
    await ws.writeText("src/a.ts", "export const a = 2;\n");
    await ws.writeText("src/deep/new.ts", "new\n");
    await ws.writeText("assets/blob.bin", BINARY);
    await unlink(path.join(ws.dir, "old.txt"));
    await symlink("src/a.ts", path.join(ws.dir, "alias.ts"));
    await writeFile(path.join(ws.dir, "tool.sh"), "#!/bin/sh\necho changed\n");
    const snap = await ws.snapshot("change");
    assert.ok(snap);
  }

  it("writes the change: edits, new files in new directories, binary bytes, deletions, symlinks", async () => {
    await makeChange();
    const files = await fx.workspace.applyTo(fx.repo);
    assert.deepEqual(files, [
      "alias.ts",
      "assets/blob.bin",
      "old.txt",
      "src/a.ts",
      "src/deep/new.ts",
      "tool.sh",
    ]);
    const repo = fx.repo;
    assert.equal(await readFile(path.join(repo, "src/a.ts"), "utf8"), "export const a = 2;\n");
    assert.equal(await readFile(path.join(repo, "src/deep/new.ts"), "utf8"), "new\n");
    assert.deepEqual(await readFile(path.join(repo, "assets/blob.bin")), BINARY);
    await assert.rejects(stat(path.join(repo, "old.txt")));
    assert.equal(await readlink(path.join(repo, "alias.ts")), "src/a.ts");
    assert.equal((await stat(path.join(repo, "tool.sh"))).mode & 0o111, 0o111, "keeps the executable bit");
    const status = (await testGit(repo, ["status", "--porcelain"])).stdout.toString();
    assert.match(status, / M src\/a.ts/);
    assert.match(status, / D old.txt/);
    assert.doesNotMatch(status, /entourage|\.tmp/, "no temporary files left");
  });

  it("refuses and writes nothing when the user edited a changed file underneath", async () => {
    await makeChange();
    await writeFile(path.join(fx.repo, "src/a.ts"), "export const a = 99; // mine\n");
    await writeFile(path.join(fx.repo, "src/deep-other.txt"), "unrelated\n");
    await assert.rejects(fx.workspace.applyTo(fx.repo), (error: unknown) => {
      assert.ok(UserError.isInstance(error));
      assert.equal(error.code, "checkout_changed");
      assert.match(error.message, /src\/a.ts: its content changed/);
      assert.doesNotMatch(error.message, /deep-other/);
      return true;
    });
    assert.equal(await readFile(path.join(fx.repo, "src/a.ts"), "utf8"), "export const a = 99; // mine\n");
    await assert.rejects(stat(path.join(fx.repo, "src/deep")), "no new file was written");
    assert.equal(await readFile(path.join(fx.repo, "old.txt"), "utf8"), "old\n", "no deletion happened");
  });

  it("refuses when a file the run added already exists, or one it deletes was changed", async () => {
    await makeChange();
    await mkdir(path.join(fx.repo, "assets"));
    await writeFile(path.join(fx.repo, "assets/blob.bin"), "theirs");
    await writeFile(path.join(fx.repo, "old.txt"), "edited\n");
    await assert.rejects(fx.workspace.applyTo(fx.repo), (error: unknown) => {
      assert.ok(UserError.isInstance(error));
      assert.match(error.message, /assets\/blob.bin: the run added it, but it now exists/);
      assert.match(error.message, /old.txt: its content changed/);
      return true;
    });
  });

  it("refuses when the user deleted a file the run modified", async () => {
    await makeChange();
    await rm(path.join(fx.repo, "src/a.ts"));
    await assert.rejects(fx.workspace.applyTo(fx.repo), /src\/a.ts: deleted in your checkout/);
  });

  it("never touches the user's .git or index", async () => {
    await makeChange();
    const gitDir = path.join(fx.repo, ".git");
    const before = await readdir(gitDir, { recursive: true });
    const indexBefore = await readFile(path.join(gitDir, "index"));
    await fx.workspace.applyTo(fx.repo);
    assert.deepEqual(await readdir(gitDir, { recursive: true }), before);
    assert.deepEqual(await readFile(path.join(gitDir, "index")), indexBefore);
  });

  it("applies only up to the snapshot it is given", async () => {
    await fx.workspace.writeText("first.txt", "1\n");
    const first = await fx.workspace.snapshot("first");
    await fx.workspace.writeText("second.txt", "2\n");
    await fx.workspace.snapshot("second");
    assert.deepEqual(await fx.workspace.applyTo(fx.repo, { ref: first?.ref }), ["first.txt"]);
    await assert.rejects(lstat(path.join(fx.repo, "second.txt")));
  });

  it("returns nothing to do when the run changed nothing", async () => {
    assert.deepEqual(await fx.workspace.applyTo(), []);
  });

  it("replaces a file by a directory and back", async () => {
    await unlink(path.join(fx.workspace.dir, "old.txt"));
    await fx.workspace.writeText("old.txt/inside.txt", "now a directory\n");
    await rm(path.join(fx.workspace.dir, "src"), { recursive: true });
    await fx.workspace.writeText("src", "now a file\n");
    await fx.workspace.snapshot("swap");
    await fx.workspace.applyTo(fx.repo);
    assert.equal(await readFile(path.join(fx.repo, "old.txt/inside.txt"), "utf8"), "now a directory\n");
    assert.equal(await readFile(path.join(fx.repo, "src"), "utf8"), "now a file\n");
    // Applied again (say the first apply's record was lost to a kill): the change is there, and said so.
    await assert.rejects(
      fx.workspace.applyTo(fx.repo),
      (error: unknown) => UserError.isInstance(error) && error.code === "already_applied",
    );
  });
});

describe("withExecutableBit", () => {
  it("sets execute where the user can read and clears it everywhere", () => {
    assert.equal(withExecutableBit(0o640, true), 0o750);
    assert.equal(withExecutableBit(0o755, false), 0o644);
  });
});
