/**
 * A run's commands on the user's own toolchain and the checkout's git-ignored dependency folders, for
 * real: a JavaScript repo whose `npm test` needs a package (with a `bin`) that only its git-ignored
 * `node_modules` holds, composed the way a run is (Workspace.create → detectMounts → createSandbox).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, lstatSync, readdirSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it, type TestContext } from "node:test";
import { createSandbox, detectMounts, type MountConfig, mountsRef } from "../../src/cli/compose.ts";
import { createBackend } from "../../src/sandbox/backends/index.ts";
import type { SandboxBackendName } from "../../src/sandbox/index.ts";
import { DEFAULT_DEPENDENCY_DIRS, Workspace } from "../../src/workspace/index.ts";
import { missingDependency } from "../support/sandbox/sandbox.conformance-support.ts";
import { createRepo, tempDir, treeDigest, writeEntries } from "../support/workspace.ts";

const CONFIG: MountConfig = {
  dependencyDirs: [...DEFAULT_DEPENDENCY_DIRS],
  toolchainPaths: [],
  entourageRuntime: false,
};

/** The environment `npm test` gives Entourage's own tests: its pinned Node's folder and .bin first. */
function npmRunEnv(): NodeJS.ProcessEnv {
  const own = path.dirname(process.execPath);
  const bin = path.join(process.cwd(), "node_modules", ".bin");
  return { ...process.env, PATH: `${bin}:${own}:${process.env.PATH ?? "/usr/bin:/bin"}` };
}

const FILES = {
  ".gitignore": "node_modules/\n",
  "package.json": JSON.stringify({
    name: "app",
    private: true,
    scripts: { test: "tiny-check && node test.js" },
  }),
  "test.js":
    'const { double } = require("tiny-lib");\nif (double(21) !== 42) process.exit(1);\nconsole.log("tiny-lib ok on", process.version);\n',
};
/** A small real package, written by hand (no network): a module and a `bin`. */
const NODE_MODULES = {
  "node_modules/tiny-lib/package.json": JSON.stringify({
    name: "tiny-lib",
    version: "1.0.0",
    main: "index.js",
    bin: { "tiny-check": "cli.js" },
  }),
  "node_modules/tiny-lib/index.js": "exports.double = (n) => n * 2;\n",
  "node_modules/tiny-lib/cli.js": {
    content: '#!/usr/bin/env node\nconsole.log("tiny-check ran");\n',
    mode: 0o755,
  },
  "node_modules/.bin/tiny-check": { symlink: "../tiny-lib/cli.js" },
};

for (const name of ["bwrap", "subprocess"] as const satisfies SandboxBackendName[]) {
  describe(`${name}: dependencies and toolchain`, () => {
    let base: { path: string; cleanup: () => Promise<void> };
    let unavailable: string | undefined;
    before(async () => {
      base = await tempDir("entourage-deps-");
      const probe = await createBackend(name).probe();
      if (!probe.available) unavailable = probe.reason;
    });
    after(() => base.cleanup());
    const ready = (t: TestContext) => {
      if (unavailable === undefined) return true;
      missingDependency(t, `${name} unavailable: ${unavailable}`);
      return false;
    };

    async function setUp(tag: string) {
      const repo = await createRepo(path.join(base.path, tag, "repo"), { files: FILES });
      await writeEntries(repo, NODE_MODULES);
      const workspace = await Workspace.create({ repo, dir: path.join(base.path, tag, "run", "workspace") });
      const mounts = await detectMounts(workspace.repo, CONFIG, "off", npmRunEnv());
      await workspace.excludeFromSnapshots(mounts.dependencies.map((d) => d.path));
      const sandbox = await createSandbox(name, workspace.dir, {
        network: "off",
        timeoutMs: 60_000,
        env: {},
        mounts,
      });
      workspace.lendTo(sandbox.runAs);
      return { repo, workspace, mounts, sandbox };
    }

    it("npm test finds the package and its bin from the checkout's git-ignored node_modules", async (t) => {
      if (!ready(t)) return;
      const { workspace, mounts, sandbox } = await setUp("npm");
      try {
        assert.deepEqual(mountsRef(mounts).dependencies, ["node_modules"]);
        // Not copied: absent in the workspace (bwrap mounts it per command) or a link (subprocess).
        const inWorkspace = path.join(workspace.dir, "node_modules");
        if (name === "bwrap") assert.ok(!existsSync(inWorkspace));
        else assert.ok(lstatSync(inWorkspace).isSymbolicLink());
        const result = await sandbox.exec(["npm", "test"]);
        assert.equal(result.exitCode, 0, result.output);
        assert.match(result.output, /tiny-check ran/);
        assert.match(result.output, /tiny-lib ok on v/);
      } finally {
        await sandbox.destroy();
      }
    });

    it("node is the user's, not Entourage's pinned Node, even when Entourage runs under npm", async (t) => {
      if (!ready(t)) return;
      const host = execFileSync("/usr/bin/node", ["--version"], { encoding: "utf8" }).trim();
      const { mounts, sandbox } = await setUp("node");
      try {
        assert.ok(!mounts.toolchain.path.split(":").includes(path.dirname(process.execPath)));
        const result = await sandbox.exec(["sh", "-c", "node --version; echo $PATH"]);
        assert.equal(result.exitCode, 0, result.output);
        const [version, sandboxPath] = result.output.trim().split("\n");
        assert.equal(version, host, `the host's /usr/bin/node (Entourage runs on ${process.version})`);
        assert.ok(
          !sandboxPath!
            .split(":")
            .some((p) => p.endsWith("node_modules/.bin") || p === path.dirname(process.execPath)),
        );
        const viaNpm = await sandbox.exec(["npm", "test"]);
        assert.match(viaNpm.output, new RegExp(`tiny-lib ok on ${host.replaceAll(".", "\\.")}`));
      } finally {
        await sandbox.destroy();
      }
    });

    it("no mount point or link shows in the run's diff or gets applied", async (t) => {
      if (!ready(t)) return;
      const { repo, workspace, sandbox } = await setUp("diff");
      const before = await treeDigest(path.join(repo, "node_modules"));
      try {
        const result = await sandbox.exec(["sh", "-c", "ls node_modules/tiny-lib && echo change > new.txt"]);
        assert.equal(result.exitCode, 0, result.output);
        const changes = await workspace.changes();
        assert.deepEqual(
          changes.files.map((f) => f.path),
          ["new.txt"],
        );
        await workspace.snapshot("after the command");
      } finally {
        await sandbox.destroy();
      }
      assert.deepEqual(
        (await workspace.changes()).files.map((f) => f.path),
        ["new.txt"],
      );
      assert.deepEqual(await workspace.applyTo(repo), ["new.txt"]);
      assert.equal(
        await treeDigest(path.join(repo, "node_modules")),
        before,
        "the user's node_modules untouched",
      );
      assert.ok(lstatSync(path.join(repo, "node_modules")).isDirectory());
      if (name === "subprocess")
        assert.ok(!existsSync(path.join(workspace.dir, "node_modules")), "the link is removed");
      else
        assert.deepEqual(
          readdirSync(path.join(workspace.dir, "node_modules")),
          [],
          "only an empty mount point stays",
        );
    });

    if (name === "bwrap") {
      it("the dependency folder is read-only inside", async (t) => {
        if (!ready(t)) return;
        const { repo, sandbox } = await setUp("ro");
        try {
          const result = await sandbox.exec([
            "sh",
            "-c",
            "echo x > node_modules/tiny-lib/index.js; echo rc=$?; rm -rf node_modules/tiny-lib; echo rc=$?",
          ]);
          assert.match(result.output, /Read-only file system/);
          assert.doesNotMatch(result.output, /rc=0/);
          assert.ok(existsSync(path.join(repo, "node_modules", "tiny-lib", "index.js")));
        } finally {
          await sandbox.destroy();
        }
      });
    }
  });
}
