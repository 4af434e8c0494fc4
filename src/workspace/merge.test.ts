import assert from "node:assert/strict";
import { chmod, readFile, readlink, stat, symlink, unlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import {
  createWorkspaceFixture,
  testGit,
  treeDigest,
  type WorkspaceFixture,
} from "../../test/support/workspace.ts";
import { UserError } from "../core/index.ts";
import type { Workspace } from "./index.ts";
import { mergeMode } from "./merge.ts";

const TEN_LINES = `${Array.from({ length: 10 }, (_, i) => `line ${i + 1}`).join("\n")}\n`;
const BINARY = Buffer.from([0x00, 0x01, 0x02, 0x03]);

/** The original workspace and two clones of it at the same checkpoint, like two parallel agents. */
interface Trio {
  fx: WorkspaceFixture;
  base: string;
  left: Workspace;
  right: Workspace;
}

async function trio(): Promise<Trio> {
  const fx = await createWorkspaceFixture({
    files: {
      "a.txt": "a\n",
      "b.txt": "b\n",
      "ten.txt": TEN_LINES,
      "gone.txt": "delete me\n",
      "kept.txt": "keep me\n",
      "image.bin": BINARY,
      "run.sh": { content: "#!/bin/sh\n", mode: 0o644 },
      link: { symlink: "a.txt" },
    },
  });
  await fx.workspace.writeText("a.txt", "a, before the fork\n");
  const base = (await fx.workspace.snapshot("before the fork"))!.ref;
  const left = await fx.workspace.cloneAt(base, path.join(fx.base, "left", "ws"));
  const right = await fx.workspace.cloneAt(base, path.join(fx.base, "right", "ws"));
  return { fx, base, left, right };
}

const read = (ws: Workspace, rel: string) => readFile(path.join(ws.dir, rel), "utf8");
const edit = (ws: Workspace, rel: string, from: string, to: string) =>
  read(ws, rel).then((text) => ws.writeText(rel, text.replace(from, to)));

describe("Workspace.mergeFrom", () => {
  let t: Trio;
  beforeEach(async () => {
    t = await trio();
  });
  afterEach(() => t.fx.cleanup());

  it("merges two clones that edited different files, both into the original, cleanly", async () => {
    await t.left.writeText("a.txt", "left\n");
    await t.left.snapshot("left");
    await t.right.writeText("b.txt", "right\n");
    await t.right.snapshot("right");
    const original = t.fx.workspace;

    const fromLeft = await original.mergeFrom(t.left, { base: t.base });
    assert.deepEqual(fromLeft.merged, ["a.txt"]);
    assert.deepEqual(fromLeft.conflicts, []);
    const fromRight = await original.mergeFrom(t.right, { base: t.base });
    assert.deepEqual(fromRight.merged, ["b.txt"]);
    assert.deepEqual(fromRight.conflicts, []);

    assert.equal(await read(original, "a.txt"), "left\n");
    assert.equal(await read(original, "b.txt"), "right\n");
    assert.ok(fromRight.snapshot);
    assert.equal(await original.head(), fromRight.snapshot.ref);
    assert.deepEqual(fromRight.snapshot.filesChanged, ["b.txt"]);
    // Diff and apply still go from the user's baseline.
    assert.deepEqual(
      (await original.changes()).files.map((f) => f.path),
      ["a.txt", "b.txt"],
    );
    assert.deepEqual(await original.applyTo(), ["a.txt", "b.txt"]);
    assert.equal(await readFile(path.join(t.fx.repo, "b.txt"), "utf8"), "right\n");
  });

  it("records both histories, leaves the other workspace untouched, and can be rewound", async () => {
    await t.right.writeText("b.txt", "right\n");
    const theirs = (await t.right.snapshot("right"))!.ref;
    const otherFiles = await treeDigest(t.right.dir);
    const otherGit = await treeDigest(t.right.gitDir);
    const before = await t.left.head();

    const result = await t.left.mergeFrom(t.right, { base: t.base, label: "merge right" });
    assert.equal(result.snapshot?.label, "merge right");
    assert.equal(await treeDigest(t.right.dir), otherFiles);
    assert.equal(await treeDigest(t.right.gitDir), otherGit);

    const parents = await testGit(t.left.dir, ["--git-dir", t.left.gitDir, "rev-parse", "HEAD^1", "HEAD^2"]);
    assert.deepEqual(parents.stdout.toString().trim().split("\n"), [before, theirs]);
    await t.left.restore(before);
    assert.equal(await read(t.left, "b.txt"), "b\n");
  });

  it("merges edits to different regions of the same file", async () => {
    await edit(t.left, "ten.txt", "line 2\n", "line two (left)\n");
    await t.left.snapshot("left");
    await edit(t.right, "ten.txt", "line 9\n", "line nine (right)\n");
    await t.right.snapshot("right");

    const result = await t.left.mergeFrom(t.right, { base: t.base });
    assert.deepEqual(result.merged, ["ten.txt"]);
    assert.deepEqual(result.conflicts, []);
    const text = await read(t.left, "ten.txt");
    assert.match(text, /^line two \(left\)$/m);
    assert.match(text, /^line nine \(right\)$/m);
    assert.equal(text.split("\n").length, 11);
  });

  it("reports the same lines changed on both sides as a conflict with all three versions, writing no markers", async () => {
    await edit(t.left, "ten.txt", "line 5\n", "line five (left)\n");
    await t.left.writeText("a.txt", "left's a\n");
    await t.left.snapshot("left");
    await edit(t.right, "ten.txt", "line 5\n", "line five (right)\n");
    await t.right.writeText("b.txt", "right's b\n");
    await t.right.snapshot("right");
    const leftTen = await read(t.left, "ten.txt");

    const result = await t.left.mergeFrom(t.right, { base: t.base });
    assert.deepEqual(result.merged, ["b.txt"], "the clean part is still taken");
    assert.equal(result.conflicts.length, 1);
    const [conflict] = result.conflicts;
    assert.equal(conflict?.path, "ten.txt");
    assert.equal(conflict?.reason, "both sides changed the same lines");
    assert.equal(conflict?.ours, leftTen);
    assert.equal(conflict?.theirs, TEN_LINES.replace("line 5\n", "line five (right)\n"));
    assert.equal(conflict?.base, TEN_LINES);
    assert.equal(await read(t.left, "ten.txt"), leftTen, "ours kept, no conflict markers");
    assert.equal(await read(t.left, "b.txt"), "right's b\n");
  });

  it("takes additions, deletions and executable bits made on one side", async () => {
    await t.right.writeText("new/dir/file.txt", "added by right\n");
    await unlink(path.join(t.right.dir, "gone.txt"));
    await chmod(path.join(t.right.dir, "run.sh"), 0o755);
    await t.right.snapshot("right");

    const result = await t.left.mergeFrom(t.right, { base: t.base });
    assert.deepEqual(result.merged, ["gone.txt", "new/dir/file.txt", "run.sh"]);
    assert.equal(await read(t.left, "new/dir/file.txt"), "added by right\n");
    await assert.rejects(stat(path.join(t.left.dir, "gone.txt")));
    assert.equal((await stat(path.join(t.left.dir, "run.sh"))).mode & 0o100, 0o100);
    assert.deepEqual((await t.left.changes({ from: t.base, to: "HEAD" })).files, [
      { path: "gone.txt", status: "deleted" },
      { path: "new/dir/file.txt", status: "added" },
      { path: "run.sh", status: "modified" },
    ]);
  });

  it("keeps ours and reports a change against a deletion, in both directions", async () => {
    await unlink(path.join(t.left.dir, "gone.txt"));
    await t.left.writeText("kept.txt", "kept, changed by left\n");
    await t.left.snapshot("left");
    await t.right.writeText("gone.txt", "changed by right\n");
    await unlink(path.join(t.right.dir, "kept.txt"));
    await t.right.snapshot("right");

    const result = await t.left.mergeFrom(t.right, { base: t.base });
    assert.deepEqual(result.merged, []);
    assert.equal(result.snapshot, null);
    assert.deepEqual(result.conflicts, [
      {
        path: "gone.txt",
        ours: null,
        theirs: "changed by right\n",
        base: "delete me\n",
        reason: "deleted here, changed there",
      },
      {
        path: "kept.txt",
        ours: "kept, changed by left\n",
        theirs: null,
        base: "keep me\n",
        reason: "changed here, deleted there",
      },
    ]);
    await assert.rejects(stat(path.join(t.left.dir, "gone.txt")));
    assert.equal(await read(t.left, "kept.txt"), "kept, changed by left\n");
  });

  it("reports a file added on both sides with different content, and binaries as a note", async () => {
    await t.left.writeText("both.txt", "from left\n");
    await writeFile(path.join(t.left.dir, "image.bin"), Buffer.from([0x00, 0x09]));
    await t.left.snapshot("left");
    await t.right.writeText("both.txt", "from right\n");
    await writeFile(path.join(t.right.dir, "image.bin"), Buffer.from([0x00, 0x08, 0x07]));
    await t.right.snapshot("right");

    const { conflicts } = await t.left.mergeFrom(t.right, { base: t.base });
    assert.equal(conflicts.length, 2);
    assert.deepEqual(conflicts[0], {
      path: "both.txt",
      ours: "from left\n",
      theirs: "from right\n",
      base: null,
      reason: "both sides changed the same lines",
    });
    assert.equal(conflicts[1]?.path, "image.bin");
    assert.equal(conflicts[1]?.reason, "binary file changed on both sides");
    assert.match(conflicts[1]?.ours ?? "", /^\[binary file, 2 bytes, blob [0-9a-f]{40}\]$/);
    assert.match(conflicts[1]?.theirs ?? "", /^\[binary file, 3 bytes/);
    assert.match(conflicts[1]?.base ?? "", /^\[binary file, 4 bytes/);
    assert.deepEqual(await readFile(path.join(t.left.dir, "image.bin")), Buffer.from([0x00, 0x09]));
  });

  it("reports a symlink changed on both sides and a file where the other side made a directory", async () => {
    await unlink(path.join(t.left.dir, "link"));
    await t.left.writeText("link", "now a file\n");
    await t.left.writeText("spot", "a file here\n");
    await t.left.snapshot("left");
    await unlink(path.join(t.right.dir, "link"));
    await symlink("b.txt", path.join(t.right.dir, "link"));
    await t.right.writeText("spot/inside.txt", "a directory there\n");
    await t.right.snapshot("right");

    const { conflicts, merged } = await t.left.mergeFrom(t.right, { base: t.base });
    assert.deepEqual(merged, []);
    assert.deepEqual(
      conflicts.map((c) => [c.path, c.reason, c.ours, c.theirs]),
      [
        [
          "link",
          "both sides changed a symlink or replaced a file by a symlink",
          "now a file\n",
          "[symlink to b.txt]",
        ],
        ["spot/inside.txt", "a file on one side is a directory on the other", null, "a directory there\n"],
      ],
    );
    assert.equal(await read(t.left, "spot"), "a file here\n");
  });

  it("includes this workspace's unsnapshotted edits in the merge snapshot, losing nothing", async () => {
    await t.left.writeText("a.txt", "left, not yet snapshotted\n");
    await t.right.writeText("b.txt", "right\n");
    await t.right.snapshot("right");
    const result = await t.left.mergeFrom(t.right, { base: t.base });
    assert.deepEqual(result.snapshot?.filesChanged, ["a.txt", "b.txt"]);
    assert.equal(await read(t.left, "a.txt"), "left, not yet snapshotted\n");
    assert.deepEqual((await t.left.changes({ from: "HEAD" })).files, []);
  });

  it("refuses a base the other workspace does not have, and merging into itself", async () => {
    await t.left.writeText("a.txt", "only left has this\n");
    const leftOnly = (await t.left.snapshot("left"))!.ref;
    await assert.rejects(
      t.left.mergeFrom(t.right, { base: leftOnly }),
      (e: unknown) => UserError.isInstance(e) && e.code === "merge_base_unknown",
    );
    await assert.rejects(
      t.left.mergeFrom(t.left, { base: t.base }),
      (e: unknown) => UserError.isInstance(e) && e.code === "merge_self",
    );
    assert.equal(await readlink(path.join(t.left.dir, "link")), "a.txt");
  });
});

describe("mergeMode", () => {
  it("lets whoever changed the executable bit win", () => {
    assert.equal(mergeMode("100644", "100644", "100755"), "100755");
    assert.equal(mergeMode("100644", "100755", "100644"), "100755");
    assert.equal(mergeMode("100644", "100755", "100755"), "100755");
    assert.equal(mergeMode("000000", "100644", "100755"), undefined);
  });
});
