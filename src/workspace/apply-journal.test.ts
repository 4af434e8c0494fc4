import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmod,
  cp,
  lstat,
  mkdir,
  readdir,
  readFile,
  readlink,
  realpath,
  rm,
  symlink,
  unlink,
  writeFile,
} from "node:fs/promises";
import { hostname } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { createWorkspaceFixture, type WorkspaceFixture } from "../../test/support/workspace.ts";
import { EntourageError } from "../core/index.ts";
import { abortApply } from "./apply.ts";
import { ApplySlot } from "./apply-journal.ts";

/** Every path outside .git with its kind, permission bits and bytes (or link target). */
async function treeOf(dir: string): Promise<string> {
  const hash = createHash("sha256");
  const walk = async (d: string) => {
    for (const name of (await readdir(d)).sort()) {
      if (d === dir && name === ".git") continue;
      const p = path.join(d, name);
      const info = await lstat(p);
      hash.update(`${path.relative(dir, p)} ${info.mode.toString(8)}\n`);
      if (info.isSymbolicLink()) hash.update(await readlink(p));
      else if (info.isDirectory()) await walk(p);
      else hash.update(await readFile(p));
    }
  };
  await walk(dir);
  return hash.digest("hex");
}

async function strayTemps(dir: string): Promise<string[]> {
  return ((await readdir(dir, { recursive: true })) as string[]).filter((p) => /entourage-.*\.tmp$/.test(p));
}

/** Stops the apply after `n` entries, as kill -9 would: the journal stays, nothing is cleaned up. */
class Crash extends Error {}
const crashAfter = (n: number) => (done: number) => {
  if (done === n) throw new Crash(`crashed after ${n}`);
};

describe("an interrupted apply", () => {
  let fx: WorkspaceFixture;
  let journals: string;
  let before: string;
  let after: string;

  beforeEach(async () => {
    fx = await createWorkspaceFixture({
      files: {
        "src/a.ts": "a1\n",
        "src/b.ts": "b1\n",
        "old.txt": "old\n",
        "gone/x.txt": "x\n",
        "gone/deeper/y.txt": "y\n",
        "tool.sh": { content: "#!/bin/sh\n", mode: 0o750 },
        link: { symlink: "src/a.ts" },
      },
    });
    journals = path.join(fx.workspace.dir, "..", "journals");
    await chmod(path.join(fx.repo, "src/b.ts"), 0o600); // the user's own mode: kept and restored
    const ws = fx.workspace.dir;
    await writeFile(path.join(ws, "src/a.ts"), "a2\n");
    await writeFile(path.join(ws, "src/b.ts"), "b2\n");
    await unlink(path.join(ws, "old.txt"));
    await mkdir(path.join(ws, "old.txt"));
    await writeFile(path.join(ws, "old.txt/inside.txt"), "now a directory\n");
    await unlink(path.join(ws, "gone/x.txt"));
    await unlink(path.join(ws, "gone/deeper/y.txt"));
    await mkdir(path.join(ws, "new/deep"), { recursive: true });
    await writeFile(path.join(ws, "new/deep/n.txt"), "n\n");
    await writeFile(path.join(ws, "tool.sh"), "#!/bin/sh\necho 2\n");
    await chmod(path.join(ws, "tool.sh"), 0o644);
    await unlink(path.join(ws, "link"));
    await symlink("src/b.ts", path.join(ws, "link"));
    await fx.workspace.snapshot("change");
    before = await treeOf(fx.repo);
    // The reference result: the same change applied without interruption to a copy of the checkout.
    const copy = path.join(fx.workspace.dir, "..", "reference");
    await cp(fx.repo, copy, { recursive: true, verbatimSymlinks: true });
    await fx.workspace.applyTo(copy, { journals: path.join(copy, "..", "reference-journals"), runId: "ref" });
    after = await treeOf(copy);
    await rm(copy, { recursive: true });
    assert.notEqual(before, after);
  });
  afterEach(() => fx.cleanup());

  const apply = (onProgress?: (done: number, total: number) => void) =>
    fx.workspace.applyTo(fx.repo, { journals, runId: "run_1", onProgress });
  const entries = 9; // every path above

  for (let k = 1; k < entries; k++) {
    it(`stopped after ${k} of ${entries} paths: the next apply finishes it exactly`, async () => {
      await assert.rejects(apply(crashAfter(k)), /Applying stopped part-way.*entourage apply --abort run_1/s);
      assert.notEqual(await treeOf(fx.repo), after);
      const journaled = await readJournalFiles();
      assert.deepEqual((await apply()).sort(), journaled.sort());
      assert.equal(await treeOf(fx.repo), after);
      assert.deepEqual(await strayTemps(fx.repo), []);
    });

    it(`stopped after ${k} of ${entries} paths: --abort puts back every byte, mode, link and folder`, async () => {
      await assert.rejects(apply(crashAfter(k)));
      await abortApply(fx.repo, { journals, runId: "run_1" });
      assert.equal(await treeOf(fx.repo), before);
      assert.deepEqual(await strayTemps(fx.repo), []);
      assert.equal((await lstat(path.join(fx.repo, "src/b.ts"))).mode & 0o777, 0o600);
    });
  }

  /** The paths the pending journal names (its slot is the only one under `journals`). */
  async function readJournalFiles(): Promise<string[]> {
    const [slot] = await readdir(journals);
    const journal = JSON.parse(await readFile(path.join(journals, slot!, "journal.json"), "utf8"));
    return journal.entries.map((e: { path: string }) => e.path);
  }

  it("a temp file left by the crash is removed by the recovery, whichever way it goes", async () => {
    await assert.rejects(apply(crashAfter(3)));
    const [slot] = await readdir(journals);
    const journal = JSON.parse(await readFile(path.join(journals, slot!, "journal.json"), "utf8"));
    const stray = path.join(fx.repo, "src", `.a.ts.entourage-${journal.id}.tmp`);
    await writeFile(stray, "half-written");
    await abortApply(fx.repo, { journals, runId: "run_1" });
    assert.deepEqual(await strayTemps(fx.repo), []);
    assert.equal(await treeOf(fx.repo), before);
  });

  it("blocks an apply of another run into the same checkout, naming both ways out", async () => {
    await assert.rejects(apply(crashAfter(2)));
    await assert.rejects(
      fx.workspace.applyTo(fx.repo, { journals, runId: "run_2" }),
      (error: unknown) =>
        EntourageError.isInstance(error) &&
        error.code === "apply_interrupted" &&
        /entourage apply run_1/.test(error.message) &&
        /entourage apply --abort run_1/.test(error.message),
    );
  });

  it("refuses to finish or undo when a file was changed since, keeping the journal", async () => {
    await assert.rejects(apply(crashAfter(2)));
    await writeFile(path.join(fx.repo, "src/b.ts"), "the user's edit\n");
    for (const attempt of [() => apply(), () => abortApply(fx.repo, { journals, runId: "run_1" })])
      await assert.rejects(attempt(), /hold neither your version nor the run's:\n {2}src\/b\.ts\n/);
    assert.equal(await readFile(path.join(fx.repo, "src/b.ts"), "utf8"), "the user's edit\n");
    assert.equal((await readJournalFiles()).length, entries);
  });

  it("--abort with nothing pending changes nothing and says so", async () => {
    await assert.rejects(abortApply(fx.repo, { journals, runId: "run_1" }), /No interrupted apply/);
    assert.equal(await treeOf(fx.repo), before);
  });

  it("a lock held by a live process refuses a second apply at once", async () => {
    const held = await ApplySlot.acquire(journals, await realpath(fx.repo));
    const other = spawn("sleep", ["30"]);
    try {
      // Hand the lock to another live process, as if a second `entourage apply` held it.
      const lock = path.join(held.dir, "lock");
      await writeFile(lock, JSON.stringify({ pid: other.pid, host: hostname(), since: "now" }));
      await assert.rejects(apply(), /Another apply into .* is running \(process \d+/);
      assert.equal(await treeOf(fx.repo), before);
    } finally {
      other.kill("SIGKILL");
      await held.release();
    }
    assert.ok((await apply()).length > 0, "a lock whose process is gone is taken over");
  });
});
