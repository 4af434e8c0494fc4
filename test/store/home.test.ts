import assert from "node:assert/strict";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, it } from "node:test";
import { openSqliteEventStore } from "../../src/store/backends/sqlite.ts";
import { entourageHome, secureHome } from "../../src/store/index.ts";

describe("entourageHome", () => {
  it("uses ENTOURAGE_HOME, made absolute, when set", () => {
    assert.equal(entourageHome({ ENTOURAGE_HOME: "/srv/entourage" }), "/srv/entourage");
    assert.equal(entourageHome({ ENTOURAGE_HOME: "rel/home" }), resolve("rel/home"));
  });

  it("falls back to ~/.entourage when unset or empty", () => {
    assert.equal(entourageHome({}), join(homedir(), ".entourage"));
    assert.equal(entourageHome({ ENTOURAGE_HOME: "" }), join(homedir(), ".entourage"));
  });
});

describe("private files under ENTOURAGE_HOME", () => {
  it("the SQLite event log and its -wal and -shm files are 0600 under umask 022, in a 0700 directory", async () => {
    const previous = process.umask(0o022);
    const root = mkdtempSync(join(tmpdir(), "entourage-private-db-"));
    try {
      const home = join(root, "home");
      const store = await openSqliteEventStore(join(home, "entourage.db"));
      await store.append("run_a", [{ type: "run.status", data: { status: "running" } }]);
      // While the store is open, SQLite keeps the write-ahead log and its index beside the database.
      for (const name of ["entourage.db", "entourage.db-wal", "entourage.db-shm"]) {
        assert.equal(statSync(join(home, name)).mode & 0o777, 0o600, name);
      }
      assert.equal(statSync(home).mode & 0o777, 0o700);
      await store.close();
    } finally {
      process.umask(previous);
      rmSync(root, { recursive: true, force: true });
    }
  });

  it("secureHome tightens the home, its entries and each run's directories, never following a symlink", () => {
    const root = mkdtempSync(join(tmpdir(), "entourage-loose-home-"));
    try {
      const home = join(root, "home");
      mkdirSync(join(home, "runs", "run_a", "workspace", "deep"), { recursive: true, mode: 0o755 });
      for (const dir of ["", "runs", "runs/run_a", "runs/run_a/workspace", "runs/run_a/workspace/deep"])
        chmodSync(join(home, dir), 0o755);
      writeFileSync(join(home, "token"), "t\n", { mode: 0o644 });
      writeFileSync(join(root, "outside.txt"), "x\n", { mode: 0o644 });
      symlinkSync(join(root, "outside.txt"), join(home, "link"));
      const loose = secureHome(home);
      assert.deepEqual(loose.map((p) => p.path.slice(home.length)).sort(), [
        "",
        "/runs",
        "/runs/run_a",
        "/runs/run_a/workspace",
        "/token",
      ]);
      assert.equal(statSync(join(home, "token")).mode & 0o777, 0o600);
      assert.equal(
        statSync(join(root, "outside.txt")).mode & 0o777,
        0o644,
        "the link's target is left alone",
      );
      assert.equal(statSync(join(home, "runs/run_a/workspace/deep")).mode & 0o777, 0o755, "not visited");
      assert.deepEqual(secureHome(home), [], "nothing left to tighten");
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
