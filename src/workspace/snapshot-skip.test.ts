import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmod, mkdir, readFile, stat, utimes, writeFile } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { createWorkspaceFixture, tempDir, type WorkspaceFixture } from "../../test/support/workspace.ts";

/**
 * A step that changed no file must not start git; one that changed anything — however it kept size and
 * mtime — must still be snapshotted. Git processes are counted through a `git` on PATH that logs and
 * then runs the real git.
 */
describe("Workspace.snapshot without git for an unchanged tree", () => {
  let fx: WorkspaceFixture;
  let log: string;
  const originalPath = process.env.PATH;
  const realGit = execFileSync("sh", ["-c", "command -v git"], { encoding: "utf8" }).trim();
  const gitCalls = async () => (await readFile(log, "utf8").catch(() => "")).split("\n").filter(Boolean);
  const settle = () => new Promise((resolve) => setTimeout(resolve, 60)); // past the racy margin

  before(async () => {
    fx = await createWorkspaceFixture({
      files: {
        "src/a.ts": "export const a = 1;\n",
        "b.txt": "bee\n",
        ".gitignore": "build/*\n!build/keep.txt\nnode_modules/\n",
      },
    });
    const bin = (await tempDir()).path;
    log = path.join(bin, "git.log");
    await writeFile(path.join(bin, "git"), `#!/bin/sh\necho "$*" >> '${log}'\nexec '${realGit}' "$@"\n`);
    await chmod(path.join(bin, "git"), 0o755);
    process.env.PATH = `${bin}:${originalPath}`;
    await mkdir(path.join(fx.workspace.dir, "build"), { recursive: true });
    await mkdir(path.join(fx.workspace.dir, "node_modules", "dep"), { recursive: true });
    await writeFile(path.join(fx.workspace.dir, "build", "a.o"), "obj");
    await writeFile(path.join(fx.workspace.dir, "node_modules", "dep", "index.js"), "x");
    await settle();
    assert.equal(await fx.workspace.snapshot("first look"), null); // git runs once, nothing to commit
  });
  after(async () => {
    process.env.PATH = originalPath;
    await fx.cleanup();
  });

  it("starts no git and makes no checkpoint after a step that changed nothing", async () => {
    await settle();
    await fx.workspace.snapshot("settle"); // the index is now built from a quiet tree
    const before_ = (await gitCalls()).length;
    assert.equal(await fx.workspace.snapshot("ls (step 2)"), null);
    assert.equal(await fx.workspace.snapshot("cat b.txt (step 3)"), null);
    assert.deepEqual((await gitCalls()).slice(before_), [], "no git process");
    // Ignored output (node_modules, build/a.o) changing is not a change of the project.
    await writeFile(path.join(fx.workspace.dir, "node_modules", "dep", "index.js"), "y");
    await settle();
    assert.equal(await fx.workspace.snapshot("npm install"), null);
  });

  it("snapshots a write that kept the file's size and mtime", async () => {
    const file = path.join(fx.workspace.dir, "b.txt");
    const old = 1_600_000_000; // whole seconds: restored exactly below
    await utimes(file, old, old);
    await settle();
    await fx.workspace.snapshot("settle");
    // Git itself compares ctimes in whole seconds: in the same second as its last look it would miss this.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await writeFile(file, "BEE\n"); // same size
    await utimes(file, old, old); // and the old mtime, as `cp -p` or `tar x` leave it
    assert.equal((await stat(file)).mtimeMs, old * 1000);
    await settle(); // not even recent any more: only its ctime tells
    const snap = await fx.workspace.snapshot("tar x");
    assert.deepEqual(snap?.filesChanged, ["b.txt"]);
  });

  it("snapshots such a write in the same second as the last checkpoint too, where git alone misses it", async () => {
    const file = path.join(fx.workspace.dir, "b.txt");
    const old = 1_600_000_000;
    // Several tries: each one that lands in the second of its checkpoint is a write git's stat check cannot
    // see (its whole-second ctime and mtime, size and inode all unchanged); the walk's nanoseconds can.
    for (const [i, text] of ["bea\n", "beb\n", "bec\n", "bed\n", "bee\n"].entries()) {
      await utimes(file, old, old);
      await fx.workspace.snapshot(`before ${i}`);
      await writeFile(file, text);
      await utimes(file, old, old);
      await settle();
      assert.deepEqual((await fx.workspace.snapshot(`cp -p ${i}`))?.filesChanged, ["b.txt"], `try ${i}`);
    }
  });

  it("trusts a file written just before its checkpoint by its bytes: the next quiet step starts no git", async () => {
    await settle();
    await fx.workspace.snapshot("settle");
    const file = path.join(fx.workspace.dir, "b.txt");
    await writeFile(file, "written by a command\n");
    // The checkpoint right after the write: its walk cannot vouch for b.txt by stat (racy).
    assert.deepEqual((await fx.workspace.snapshot("command"))?.filesChanged, ["b.txt"]);
    await settle();
    const before_ = (await gitCalls()).length;
    assert.equal(await fx.workspace.snapshot("read-only step"), null);
    assert.deepEqual((await gitCalls()).slice(before_), [], "the bytes match the committed blob: no git");
    // Written again, same size, right after a checkpoint: snapshotted.
    await writeFile(file, "WRITTEN BY A COMMAND\n");
    assert.deepEqual((await fx.workspace.snapshot("again"))?.filesChanged, ["b.txt"]);
    await writeFile(file, "written by a command\n");
    assert.deepEqual((await fx.workspace.snapshot("and back"))?.filesChanged, ["b.txt"]);
    assert.equal(await readFile(file, "utf8"), "written by a command\n");
  });

  it("snapshots a file the project re-includes inside a folder it otherwise ignores", async () => {
    await settle();
    await fx.workspace.snapshot("settle");
    await writeFile(path.join(fx.workspace.dir, "build", "keep.txt"), "kept\n");
    const snap = await fx.workspace.snapshot("build");
    assert.deepEqual(snap?.filesChanged, ["build/keep.txt"]);
  });

  it("rewinds to a checkpoint taken before read-only steps, and snapshots after the rewind", async () => {
    const file = path.join(fx.workspace.dir, "src", "a.ts");
    await writeFile(file, "export const a = 2;\n");
    const two = await fx.workspace.snapshot("edit to 2");
    assert.ok(two);
    await settle();
    assert.equal(await fx.workspace.snapshot("ls"), null);
    await writeFile(file, "export const a = 3;\n");
    assert.ok(await fx.workspace.snapshot("edit to 3"));
    await fx.workspace.restore(two.ref);
    assert.equal(await readFile(file, "utf8"), "export const a = 2;\n");
    assert.equal(await fx.workspace.snapshot("after rewind"), null);
    await writeFile(file, "export const a = 4;\n");
    assert.deepEqual((await fx.workspace.snapshot("edit to 4"))?.filesChanged, ["src/a.ts"]);
  });
});
