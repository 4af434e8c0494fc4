import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { diffManifests, hostManifest, listCommand, parseListing } from "./workspace-sync.ts";

describe("workspace sync manifests", () => {
  it("finds new, changed and deleted entries, a deleted tree by its top only", () => {
    const synced = new Map([
      ["a.txt", "f:1:10:420"],
      ["dir", "d:493"],
      ["dir/x", "f:2:10:420"],
      ["dir/y", "f:2:10:420"],
      ["same", "f:3:10:420"],
    ]);
    const now = new Map([
      ["a.txt", "f:1:11:420"],
      ["same", "f:3:10:420"],
      ["new", "l:a.txt"],
    ]);
    assert.deepEqual(diffManifests(synced, now), { changed: ["a.txt", "new"], deleted: ["dir"] });
  });

  it("gives a file the same signature on the host and, after a tar upload, in the container", () => {
    const root = mkdtempSync(path.join(tmpdir(), "entourage-sync-"));
    try {
      mkdirSync(path.join(root, "src"), { mode: 0o755 });
      writeFileSync(path.join(root, "src", "a.txt"), "hello", { mode: 0o644 });
      utimesSync(path.join(root, "src", "a.txt"), 1_700_000_000.75, 1_700_000_000.75);
      symlinkSync("/etc/passwd", path.join(root, "link"));
      mkdirSync(path.join(root, "node_modules"));
      writeFileSync(path.join(root, "node_modules", "skipped"), "");
      const host = hostManifest(root, ["node_modules"]);
      assert.equal(host.get("link"), "l:/etc/passwd", "a symlink is recorded, never followed");
      assert.equal(host.has("node_modules"), false);
      // tar stores whole seconds: the container lists the uploaded file with a zero fraction.
      const listing = [
        ["d", "4096", "1700000001.1234567890", "755", "src", ""],
        ["f", "5", "1700000000.0000000000", "644", "src/a.txt", ""],
        ["l", "11", "1700000002.5000000000", "777", "link", "/etc/passwd"],
      ]
        .flat()
        .map((field) => `${field}\0`)
        .join("");
      assert.deepEqual(diffManifests(host, parseListing(listing).manifest), { changed: [], deleted: [] });
      // A command's write keeps its fraction: the same size in the same second still differs.
      const written = listing.replace("1700000000.0000000000", "1700000000.4000000000");
      assert.deepEqual(diffManifests(host, parseListing(written).manifest).changed, ["src/a.txt"]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it("prunes the dependency folders from the container's listing", () => {
    assert.deepEqual(listCommand(["node_modules", "packages/a/node_modules"]).slice(0, 12), [
      "find",
      ".",
      "-mindepth",
      "1",
      "(",
      "-path",
      "./node_modules",
      "-o",
      "-path",
      "./packages/a/node_modules",
      ")",
      "-prune",
    ]);
  });
});
