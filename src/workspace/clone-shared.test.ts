import assert from "node:assert/strict";
import { mkdir, readdir, readFile, realpath, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { createWorkspaceFixture, type WorkspaceFixture } from "../../test/support/workspace.ts";
import { Workspace } from "./index.ts";

/** Copies of parallel agents borrow the run's objects; what they wrote must end up in the run's own git. */
describe("cloneAt with shareObjects, merged back", () => {
  let fx: WorkspaceFixture;
  let base: string;
  beforeEach(async () => {
    fx = await createWorkspaceFixture({ files: { "a.txt": "a\n", "b.txt": "b\n", "src/c.txt": "c\n" } });
    await fx.workspace.writeText("a.txt", "a, before the copies\n");
    base = (await fx.workspace.snapshot("before the copies"))!.ref;
  });
  afterEach(() => fx.cleanup());

  it("starts each copy at the snapshot and merges both back, first and second, into files and history", async () => {
    const left = await fx.workspace.cloneAt(base, path.join(fx.base, "left", "ws"), { shareObjects: true });
    const right = await fx.workspace.cloneAt(base, path.join(fx.base, "right", "ws"), { shareObjects: true });
    assert.equal(await readFile(path.join(left.dir, "a.txt"), "utf8"), "a, before the copies\n");
    assert.equal(await left.head(), base);
    await left.writeText("src/new/left.txt", "from the left\n");
    await left.writeText("b.txt", "b from the left\n");
    await left.snapshot("left");
    await right.writeText("src/c.txt", "c from the right\n");
    await right.snapshot("right");

    const first = await fx.workspace.mergeFrom(left, { base });
    assert.deepEqual(first.merged, ["b.txt", "src/new/left.txt"]);
    const second = await fx.workspace.mergeFrom(right, { base });
    assert.deepEqual(second.merged, ["src/c.txt"]);
    assert.deepEqual(second.conflicts, []);
    // Git made src/new for the merge: private, like everything the workspace holds.
    assert.equal((await stat(path.join(fx.workspace.dir, "src", "new"))).mode & 0o077, 0);
    assert.equal((await stat(path.join(fx.workspace.dir, "src", "new", "left.txt"))).mode & 0o077, 0);

    // The copies go away; the run's history still has every object (diff reads the blobs).
    await rm(path.join(fx.base, "left"), { recursive: true, force: true });
    await rm(path.join(fx.base, "right"), { recursive: true, force: true });
    const reopened = await Workspace.open(fx.workspace.dir);
    const diff = await reopened.diff({ to: "HEAD" });
    for (const text of ["+from the left", "+b from the left", "+c from the right"])
      assert.ok(diff.includes(text), text);
    await reopened.restore(base);
    await reopened.restore(second.snapshot!.ref);
    assert.equal(await readFile(path.join(fx.workspace.dir, "src", "c.txt"), "utf8"), "c from the right\n");
  });

  it("makes several copies at once (cloneEachAt): each its own files, private, at the snapshot", async () => {
    const dirs = ["one", "two", "three"].map((name) => path.join(fx.base, name, "ws"));
    const copies = await fx.workspace.cloneEachAt(base, dirs);
    assert.deepEqual(
      copies.map((c) => c.dir),
      await Promise.all(dirs.map(async (d) => path.join(await realpath(path.dirname(d)), "ws"))),
    );
    for (const copy of copies) {
      assert.equal(await copy.head(), base);
      assert.equal(await readFile(path.join(copy.dir, "a.txt"), "utf8"), "a, before the copies\n");
      assert.equal((await stat(path.join(copy.dir, "src", "c.txt"))).mode & 0o077, 0, "private");
      assert.equal((await stat(copy.dir)).mode & 0o077, 0);
    }
    // Independent: a write in one is in no other, and its snapshot names it alone.
    await copies[0]!.writeText("b.txt", "b from one\n");
    assert.deepEqual((await copies[0]!.snapshot("one"))?.filesChanged, ["b.txt"]);
    assert.equal(await copies[1]!.snapshot("two"), null);
    assert.equal(await readFile(path.join(copies[2]!.dir, "b.txt"), "utf8"), "b\n");
    assert.equal(await readFile(path.join(fx.workspace.dir, "b.txt"), "utf8"), "b\n");
  });

  it("refuses a copy whose folder is not empty, leaving it as it was, and still makes the others", async () => {
    const taken = path.join(fx.base, "taken", "ws");
    await mkdir(taken, { recursive: true });
    await writeFile(path.join(taken, "keep.txt"), "someone's\n");
    const free = path.join(fx.base, "free", "ws");
    await assert.rejects(fx.workspace.cloneEachAt(base, [free, taken]), { code: "workspace_exists" });
    assert.deepEqual(await readdir(taken), ["keep.txt"]);
    const made = await Workspace.open(free);
    assert.equal(await readFile(path.join(made.dir, "a.txt"), "utf8"), "a, before the copies\n");
  });
});
