import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { ToolInputError, UserError } from "../../../core/index.ts";
import { checkWorkspace, resolveCwd } from "./workspace-path.ts";

describe("workspace paths", () => {
  const root = mkdtempSync(path.join(tmpdir(), "entourage-wp-"));
  mkdirSync(path.join(root, "src", "lib"), { recursive: true });
  symlinkSync("src", path.join(root, "inner-link"));
  symlinkSync(tmpdir(), path.join(root, "outer-link"));
  after(() => rmSync(root, { recursive: true, force: true }));

  it("refuses system directories and their ancestors as workspaces", () => {
    for (const bad of ["/", "/etc", "/usr", "/home", "/root", "/tmp", "relative/dir"]) {
      assert.throws(
        () => checkWorkspace(bad),
        (e) => UserError.isInstance(e),
        bad,
      );
    }
    assert.equal(checkWorkspace(root).path, root);
  });

  it("resolves cwds inside the workspace, through inner symlinks", () => {
    const paths = checkWorkspace(root);
    assert.equal(resolveCwd(paths, undefined), root);
    assert.equal(resolveCwd(paths, "src/lib"), path.join(root, "src/lib"));
    assert.equal(resolveCwd(paths, path.join(root, "src")), path.join(root, "src"));
    assert.equal(resolveCwd(paths, "inner-link/lib"), path.join(root, "src/lib"));
  });

  it("refuses escapes, outward symlinks and missing directories", () => {
    const paths = checkWorkspace(root);
    for (const bad of ["..", "../x", "src/../../", "/etc", "outer-link", "nope", "a\0b"]) {
      assert.throws(
        () => resolveCwd(paths, bad),
        (e) => ToolInputError.isInstance(e),
        bad,
      );
    }
  });
});
