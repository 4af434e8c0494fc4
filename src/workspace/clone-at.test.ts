import assert from "node:assert/strict";
import { readFile, readlink, rm, stat, unlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { createWorkspaceFixture, treeDigest, type WorkspaceFixture } from "../../test/support/workspace.ts";
import { UserError } from "../core/index.ts";
import { Workspace } from "./index.ts";

const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0xff]);

describe("Workspace.cloneAt", () => {
  let fx: WorkspaceFixture;
  let first: string;
  let firstFiles: string;
  let second: string;
  let clone: Workspace;
  let originalFiles: string;
  let originalGit: string;

  before(async () => {
    fx = await createWorkspaceFixture({
      files: {
        ".gitignore": "node_modules/\n",
        "src/a.ts": "export const a = 1;\n",
        "bin/run.sh": { content: "#!/bin/sh\necho hi\n", mode: 0o755 },
        "crlf.txt": "one\r\ntwo\r\n",
        "link-in": { symlink: "src/a.ts" },
        "link-out": { symlink: "/etc/passwd" },
        "image.png": PNG,
        "old.txt": "going away\n",
      },
    });
    const ws = fx.workspace;
    await ws.writeText("src/a.ts", "export const a = 2;\n");
    await ws.writeText("src/new.ts", "export const n = 1;\n");
    await unlink(path.join(ws.dir, "old.txt"));
    first = (await ws.snapshot("first"))!.ref;
    firstFiles = await treeDigest(ws.dir, { mtimes: false });
    await ws.writeText("src/a.ts", "export const a = 3;\n");
    await writeFile(path.join(ws.dir, "image.png"), Buffer.concat([PNG, PNG]));
    second = (await ws.snapshot("second"))!.ref;
    // Unsnapshotted and ignored files: neither belongs to a snapshot.
    await ws.writeText("scratch.txt", "not yet snapshotted\n");
    await ws.writeText("node_modules/dep/index.js", "ignored\n");

    originalFiles = await treeDigest(ws.dir);
    originalGit = await treeDigest(ws.gitDir);
    clone = await ws.cloneAt(first, path.join(fx.base, "fork", "workspace"));
  });
  after(() => fx.cleanup());

  it("leaves the original workspace and its shadow git untouched, byte for byte and mtime for mtime", async () => {
    assert.equal(await treeDigest(fx.workspace.dir), originalFiles);
    assert.equal(await treeDigest(fx.workspace.gitDir), originalGit);
    assert.equal(await fx.workspace.head(), second);
  });

  it("holds exactly the files of the older checkpoint: bytes, modes, symlinks", async () => {
    assert.equal(await treeDigest(clone.dir, { mtimes: false }), firstFiles);
    assert.equal(await readlink(path.join(clone.dir, "link-out")), "/etc/passwd");
    // Executable, and private like every file git writes into a workspace.
    assert.equal((await stat(path.join(clone.dir, "bin/run.sh"))).mode & 0o777, 0o700);
    assert.equal(await readFile(path.join(clone.dir, "crlf.txt"), "utf8"), "one\r\ntwo\r\n");
    assert.deepEqual((await clone.changes()).files, (await fx.workspace.changes({ to: first })).files);
  });

  it("shares the baseline and checkout, has the history up to the ref, and re-opens from disk", async () => {
    assert.equal(clone.baseRef, fx.workspace.baseRef);
    assert.equal(clone.repo, fx.workspace.repo);
    assert.equal(await clone.head(), first);
    assert.notEqual(clone.gitDir, fx.workspace.gitDir);
    assert.equal(
      await clone.diff({ from: clone.baseRef, to: first }),
      await fx.workspace.diff({ to: first }),
    );
    await assert.rejects(
      clone.diff({ to: second }),
      (e: unknown) => UserError.isInstance(e) && e.code === "unknown_ref",
    );
    const reopened = await Workspace.open(clone.dir);
    assert.equal(reopened.baseRef, fx.workspace.baseRef);
    assert.equal(await reopened.head(), first);
  });

  it("evolves independently of the original in both directions", async () => {
    await clone.writeText("src/a.ts", "export const a = 'fork';\n");
    const forked = await clone.snapshot("fork edit");
    assert.deepEqual(forked?.filesChanged, ["src/a.ts"]);
    assert.equal(await treeDigest(fx.workspace.dir), originalFiles);
    assert.equal(await fx.workspace.head(), second);

    const cloneFiles = await treeDigest(clone.dir);
    await fx.workspace.writeText("src/b.ts", "b\n");
    await fx.workspace.snapshot("original edit");
    assert.equal(await treeDigest(clone.dir), cloneFiles);
    assert.equal(await clone.head(), forked?.ref);

    // A restore in the clone reaches back to the shared history.
    await clone.restore(first);
    assert.equal(await treeDigest(clone.dir, { mtimes: false }), firstFiles);
  });

  it("diffs against the original baseline and applies to the user's checkout", async () => {
    await clone.writeText("src/a.ts", "export const a = 'applied';\n");
    await clone.snapshot("to apply");
    const diff = await clone.diff();
    assert.match(diff, /^-export const a = 1;$/m, "relative to the baseline, not to the clone point");
    assert.match(diff, /^\+export const a = 'applied';$/m);
    assert.match(diff, /^deleted file mode 100644$/m);
    const written = await clone.applyTo();
    assert.deepEqual(written, ["old.txt", "src/a.ts", "src/new.ts"]);
    assert.equal(await readFile(path.join(fx.repo, "src/a.ts"), "utf8"), "export const a = 'applied';\n");
  });
});

describe("Workspace.cloneAt: history and independence", () => {
  let fx: WorkspaceFixture;
  before(async () => {
    fx = await createWorkspaceFixture({ files: { "a.txt": "a\n" } });
  });
  after(() => fx.cleanup());

  it("clones a checkpoint a restore rewound past", async () => {
    await fx.workspace.writeText("a.txt", "rewound\n");
    const rewound = (await fx.workspace.snapshot("later undone"))!.ref;
    await fx.workspace.restore(fx.workspace.baseRef);
    const clone = await fx.workspace.cloneAt(rewound, path.join(fx.base, "rewound", "ws"));
    assert.equal(await readFile(path.join(clone.dir, "a.txt"), "utf8"), "rewound\n");
  });

  it("does not depend on the original's objects: it works after the original is deleted", async () => {
    await fx.workspace.writeText("a.txt", "kept\n");
    const ref = (await fx.workspace.snapshot("kept"))!.ref;
    const clone = await fx.workspace.cloneAt("HEAD", path.join(fx.base, "survivor", "ws"));
    const grandchild = await clone.cloneAt(ref, path.join(fx.base, "grandchild", "ws"));
    await rm(fx.workspace.dir, { recursive: true });
    await rm(fx.workspace.gitDir, { recursive: true });
    assert.equal(await clone.head(), ref);
    assert.match(await clone.diff(), /^\+kept$/m);
    await clone.writeText("b.txt", "b\n");
    assert.deepEqual((await clone.snapshot("after"))?.filesChanged, ["b.txt"]);
    assert.equal(await grandchild.head(), ref);
  });
});

describe("Workspace.cloneAt: refusals", () => {
  let fx: WorkspaceFixture;
  before(async () => {
    fx = await createWorkspaceFixture({ files: { "a.txt": "a\n" } });
  });
  after(() => fx.cleanup());

  it("refuses places overlapping the original or the checkout, and unknown refs, leaving nothing behind", async () => {
    const overlapping = [
      path.join(fx.workspace.dir, "inner"),
      path.join(fx.workspace.gitDir, "inner"),
      path.join(fx.repo, "inner"),
    ];
    for (const dir of overlapping) {
      await assert.rejects(
        fx.workspace.cloneAt("HEAD", dir),
        (e: unknown) => UserError.isInstance(e) && e.code === "clone_overlaps",
      );
      await assert.rejects(stat(dir));
    }
    const dir = path.join(fx.base, "bad-ref", "ws");
    await assert.rejects(
      fx.workspace.cloneAt("nope", dir),
      (e: unknown) => UserError.isInstance(e) && e.code === "unknown_ref",
    );
    await assert.rejects(stat(dir));
  });

  it("refuses a non-empty target directory", async () => {
    const dir = path.join(fx.base, "busy", "ws");
    await fx.workspace.cloneAt("HEAD", dir);
    await assert.rejects(
      fx.workspace.cloneAt("HEAD", dir),
      (e: unknown) => UserError.isInstance(e) && e.code === "workspace_exists",
    );
  });
});
