/**
 * Dependency mounts (`spec.dependencies`) in the conformance suite: a backend that mounts them read-only
 * declares `dependencyMounts: "read-only"` and must show the folder at its path inside the workspace, refuse
 * every write into it (the user's own `node_modules` stays as it was), and refuse a bad spec with a
 * UserError. Kept in its own block so the backends' authors can extend it side by side.
 */
import assert from "node:assert/strict";
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, it, type TestContext } from "node:test";
import { UserError } from "../../../src/core/index.ts";
import type { DependencyMount, Sandbox, SandboxBackend } from "../../../src/sandbox/sandbox.ts";
import { LIMITS, spec } from "./sandbox.conformance-support.ts";

export interface DependencyContext {
  name: string;
  token: string;
  cleanups: (() => unknown)[];
  ready: (t: TestContext) => Sandbox | undefined;
  backend: () => SandboxBackend;
}

export function describeDependencyMounts(ctx: DependencyContext): void {
  const { name, token, cleanups } = ctx;
  const sh = (script: string) => ["sh", "-c", script];
  const tempDir = (label: string) => {
    const dir = mkdtempSync(path.join(tmpdir(), `entourage-conf-${name}-${label}-`));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    return dir;
  };
  /** A checkout-like folder holding `node_modules/left-pad` (a tiny hand-written package). */
  const userDependencies = () => {
    const checkout = tempDir("checkout");
    const pkg = path.join(checkout, "node_modules", "left-pad");
    mkdirSync(pkg, { recursive: true });
    writeFileSync(
      path.join(pkg, "package.json"),
      '{"name":"left-pad","version":"1.0.0","main":"index.js"}\n',
    );
    writeFileSync(
      path.join(pkg, "index.js"),
      `module.exports = (s, n) => String(s).padStart(n); module.exports.token = "${token}";\n`,
    );
    return path.join(checkout, "node_modules");
  };

  describe("dependency mounts (spec.dependencies, read-only)", () => {
    it("shows each dependency folder at its path in the workspace, symlinks resolved", async (t) => {
      if (!ctx.ready(t)) return;
      const modules = userDependencies();
      const link = path.join(tempDir("link"), "modules-link");
      symlinkSync(modules, link);
      const workspace = tempDir("deps");
      const dependencies: DependencyMount[] = [
        { source: modules, path: "node_modules" },
        { source: link, path: "packages/a/node_modules" },
      ];
      const sb = await ctx.backend().create({ ...spec(workspace, LIMITS), dependencies });
      cleanups.push(() => sb.destroy());
      try {
        const read = await sb.exec(
          sh("cat node_modules/left-pad/package.json && ls packages/a/node_modules"),
        );
        assert.equal(read.exitCode, 0, read.output);
        assert.match(read.output, /"name":"left-pad"/);
        assert.match(read.output, /^left-pad$/m);
        const required = await sb.exec(
          ["node", "-e", 'const p = require("left-pad"); console.log(p("x", 3), p.token)'],
          { cwd: "packages/a" },
        );
        assert.equal(required.exitCode, 0, required.output);
        assert.equal(required.output, `  x ${token}\n`);
      } finally {
        await sb.destroy();
      }
    });

    it("refuses every write into a dependency folder; the user's folder is unchanged", async (t) => {
      if (!ctx.ready(t)) return;
      const modules = userDependencies();
      const before = readFileSync(path.join(modules, "left-pad", "index.js"), "utf8");
      const workspace = tempDir("deps-ro");
      const sb = await ctx.backend().create({
        ...spec(workspace, LIMITS),
        dependencies: [{ source: modules, path: "node_modules" }],
      });
      cleanups.push(() => sb.destroy());
      try {
        const attempts = [
          "echo planted > node_modules/planted.txt",
          "echo changed > node_modules/left-pad/index.js",
          "rm -f node_modules/left-pad/index.js",
          "mkdir node_modules/new-dir",
          "mv node_modules/left-pad node_modules/moved",
          "chmod 777 node_modules/left-pad",
        ];
        for (const attempt of attempts) {
          const result = await sb.exec(sh(attempt));
          assert.notEqual(result.exitCode, 0, `"${attempt}" succeeded inside ${name}: ${result.output}`);
        }
        const workspaceWrite = await sb.exec(sh("echo ok > beside.txt && cat beside.txt"));
        assert.equal(workspaceWrite.output, "ok\n", "the rest of the workspace stays writable");
      } finally {
        await sb.destroy();
      }
      assert.deepEqual(readdirSync(modules).sort(), ["left-pad"]);
      assert.deepEqual(readdirSync(path.join(modules, "left-pad")).sort(), ["index.js", "package.json"]);
      assert.equal(readFileSync(path.join(modules, "left-pad", "index.js"), "utf8"), before);
    });

    it("refuses a bad dependency spec with a user-facing error", async (t) => {
      if (!ctx.ready(t)) return;
      const modules = userDependencies();
      const workspace = tempDir("deps-bad");
      const bad: [DependencyMount, RegExp][] = [
        [{ source: modules, path: "../outside" }, /leaves the workspace/],
        [{ source: modules, path: "/abs/node_modules" }, /must be relative/],
        [{ source: modules, path: "." }, /workspace root/],
        [{ source: path.join(modules, "no-such-dir"), path: "node_modules" }, /does not exist/],
        [{ source: path.join(modules, "left-pad", "index.js"), path: "node_modules" }, /not a directory/],
        [{ source: "relative/dir", path: "node_modules" }, /absolute host path/],
        [{ source: "/", path: "node_modules" }, /must never be mounted/],
      ];
      for (const [dependency, message] of bad) {
        await assert.rejects(
          ctx.backend().create({ ...spec(workspace, LIMITS), dependencies: [dependency] }),
          (e) => UserError.isInstance(e) && message.test(e.message),
          `${JSON.stringify(dependency)} should be refused with ${message}`,
        );
      }
    });
  });
}
