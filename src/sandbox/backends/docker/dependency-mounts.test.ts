import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { UserError } from "../../../core/index.ts";
import { checkWorkspace } from "../shared/workspace-path.ts";
import {
  assertReadableBy,
  planDependencyMounts,
  prepareMountpoints,
  relativeDependencyPath,
} from "./dependency-mounts.ts";

const dirs: string[] = [];
const temp = () => {
  const dir = mkdtempSync(path.join(tmpdir(), "entourage-depmounts-"));
  dirs.push(dir);
  return dir;
};
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
const userError = (pattern: RegExp) => (e: unknown) => UserError.isInstance(e) && pattern.test(e.message);

describe("docker dependency mounts", () => {
  it("normalizes relative paths and refuses escapes", () => {
    assert.equal(relativeDependencyPath("./packages//a/node_modules/"), "packages/a/node_modules");
    assert.throws(() => relativeDependencyPath("a/../../x"), userError(/leaves the workspace/));
    assert.throws(() => relativeDependencyPath("/x"), userError(/relative/));
    assert.throws(() => relativeDependencyPath("./"), userError(/workspace root/));
  });

  it("plans read-only mounts at the workspace's path, parents first, sources resolved", () => {
    const workspace = temp();
    const host = temp();
    mkdirSync(path.join(host, "nm"));
    symlinkSync(path.join(host, "nm"), path.join(host, "link"));
    const paths = checkWorkspace(workspace);
    const plan = planDependencyMounts(
      paths,
      [
        { source: path.join(host, "link"), path: "a/b/node_modules" },
        { source: path.join(host, "nm"), path: "node_modules" },
      ],
      "/nonexistent-home",
    );
    assert.deepEqual(
      plan.map((m) => [m.path, m.source, m.target]),
      [
        ["node_modules", path.join(host, "nm"), path.join(workspace, "node_modules")],
        ["a/b/node_modules", path.join(host, "nm"), path.join(workspace, "a/b/node_modules")],
      ],
    );
    assert.throws(
      () =>
        planDependencyMounts(
          paths,
          [
            { source: path.join(host, "nm"), path: "x" },
            { source: path.join(host, "nm"), path: "./x" },
          ],
          "/nonexistent-home",
        ),
      userError(/same path x/),
    );
    assert.throws(
      () =>
        planDependencyMounts(paths, [{ source: path.dirname(workspace), path: "x" }], "/nonexistent-home"),
      userError(/contains/),
    );
    assert.throws(
      () => planDependencyMounts(paths, [{ source: "/etc", path: "x" }], "/nonexistent-home"),
      userError(/must never be mounted/),
    );
  });

  it("creates missing mountpoints, refuses a symlink or a file on the way, and removes what it created", () => {
    const workspace = temp();
    const host = temp();
    const paths = checkWorkspace(workspace);
    const plan = planDependencyMounts(paths, [{ source: host, path: "pkg/a/node_modules" }], "/none");
    const undo = prepareMountpoints(paths.real, plan);
    assert.ok(existsSync(path.join(workspace, "pkg/a/node_modules")));
    undo();
    assert.ok(!existsSync(path.join(workspace, "pkg")), "the folders it created are gone");

    symlinkSync(host, path.join(workspace, "node_modules"));
    const linked = planDependencyMounts(paths, [{ source: host, path: "node_modules/x" }], "/none");
    assert.throws(() => prepareMountpoints(paths.real, linked), userError(/is a symlink/));
    writeFileSync(path.join(workspace, "file"), "");
    const onFile = planDependencyMounts(paths, [{ source: host, path: "file/x" }], "/none");
    assert.throws(() => prepareMountpoints(paths.real, onFile), userError(/is a file/));
  });

  it("tells the fix when the sandbox user cannot read a folder", () => {
    const mount = { source: "/x/nm", path: "nm", target: "/w/nm", uid: 1000, gid: 1000, mode: 0o750 };
    assert.doesNotThrow(() => assertReadableBy(mount, { uid: 65532, groups: [1000] }));
    assert.doesNotThrow(() => assertReadableBy({ ...mount, mode: 0o755 }, { uid: 65532, groups: [] }));
    assert.throws(
      () => assertReadableBy({ ...mount, mode: 0o700 }, { uid: 65532, groups: [1000] }),
      userError(/not readable by the sandbox user uid 65532 \(mode 0700.*chmod -R a\+rX \/x\/nm/),
    );
  });
});
