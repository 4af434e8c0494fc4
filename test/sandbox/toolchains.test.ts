/**
 * The user's toolchains inside bwrap, for real and offline: cargo (rustup's or Debian's) builds and
 * tests a crate whose git-ignored `target/` is mounted read-only, python3 -m pytest (pyenv's or
 * Debian's), and go test on a module whose dependency comes from the user's module cache. Slow (real
 * compilers); CI installs Debian's cargo, golang-go and python3-pytest.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it, type TestContext } from "node:test";
import { createSandbox, detectMounts, type MountConfig } from "../../src/cli/compose.ts";
import { createBwrapBackend } from "../../src/sandbox/backends/index.ts";
import { findExecutable } from "../../src/sandbox/backends/shared/find-executable.ts";
import { DEFAULT_DEPENDENCY_DIRS, Workspace } from "../../src/workspace/index.ts";
import { missingDependency } from "../support/sandbox/sandbox.conformance-support.ts";
import { createRepo, type FixtureEntry, tempDir } from "../support/workspace.ts";

const CONFIG: MountConfig = {
  dependencyDirs: [...DEFAULT_DEPENDENCY_DIRS],
  toolchainPaths: [],
  entourageRuntime: false,
};

describe("bwrap: the user's toolchains, offline", () => {
  let base: { path: string; cleanup: () => Promise<void> };
  let unavailable: string | undefined;
  before(async () => {
    base = await tempDir("entourage-toolchains-");
    const probe = await createBwrapBackend().probe();
    if (!probe.available) unavailable = probe.reason;
  });
  after(() => base.cleanup());

  /** The tool on the user's PATH, or undefined after skipping (failing under ENTOURAGE_CI=1). */
  const tool = (t: TestContext, name: string): string | undefined => {
    if (unavailable !== undefined) {
      missingDependency(t, `bwrap unavailable: ${unavailable}`);
      return undefined;
    }
    const found = findExecutable(name);
    if (!found)
      missingDependency(
        t,
        `${name} is not installed (apt-get install ${name === "go" ? "golang-go" : name})`,
      );
    return found;
  };

  async function run(
    tag: string,
    files: Record<string, FixtureEntry>,
    commands: string[],
    options: { env?: NodeJS.ProcessEnv; hostSetup?: (repo: string) => void } = {},
  ) {
    const repo = await createRepo(path.join(base.path, tag, "repo"), { files });
    options.hostSetup?.(repo);
    const workspace = await Workspace.create({ repo, dir: path.join(base.path, tag, "run", "workspace") });
    const mounts = await detectMounts(workspace.repo, CONFIG, "off", options.env ?? process.env);
    await workspace.excludeFromSnapshots(mounts.dependencies.map((d) => d.path));
    const sandbox = await createSandbox("bwrap", workspace.dir, {
      network: "off",
      timeoutMs: 300_000,
      env: {},
      mounts,
    });
    try {
      const outputs: string[] = [];
      for (const command of commands) {
        const result = await sandbox.exec(["sh", "-c", command]);
        assert.equal(result.exitCode, 0, `${command}:\n${result.output}`);
        outputs.push(result.output);
      }
      return { outputs, mounts, workspace };
    } finally {
      await sandbox.destroy();
    }
  }

  it("cargo builds and tests a crate; its git-ignored target/ stays read-only and untouched", async (t) => {
    const cargo = tool(t, "cargo");
    if (!cargo) return;
    const crate = {
      ".gitignore": "target\n",
      "Cargo.toml": '[package]\nname = "tiny"\nversion = "0.1.0"\nedition = "2021"\n',
      "src/lib.rs":
        "pub fn add(a: i32, b: i32) -> i32 { a + b }\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn adds() { assert_eq!(super::add(2, 2), 4); }\n}\n",
    };
    const { outputs, mounts, workspace } = await run("cargo", crate, ["cargo test --offline 2>&1"], {
      // The user built it once: target/ exists in the checkout, git-ignored.
      hostSetup: (repo) => {
        execFileSync(cargo, ["build", "--offline", "-q"], { cwd: repo, stdio: "pipe" });
      },
    });
    assert.match(outputs[0]!, /test tests::adds \.\.\. ok/);
    assert.deepEqual(
      mounts.dependencies.map((d) => d.path),
      ["target"],
    );
    assert.deepEqual((await workspace.changes()).files, [], "no build output in the diff");
  });

  it("python3 -m pytest runs the project's tests", async (t) => {
    if (!tool(t, "python3")) return;
    const probe = (() => {
      try {
        execFileSync("python3", ["-m", "pytest", "--version"], { stdio: "pipe" });
        return true;
      } catch {
        return false;
      }
    })();
    if (!probe)
      return missingDependency(t, "pytest is not installed for python3 (apt-get install python3-pytest)");
    const { outputs } = await run(
      "pytest",
      {
        "calc.py": "def add(a, b):\n    return a + b\n",
        "test_calc.py": "from calc import add\n\ndef test_add():\n    assert add(2, 3) == 5\n",
      },
      ["python3 -m pytest -q -p no:cacheprovider 2>&1"],
    );
    assert.match(outputs[0]!, /1 passed/);
  });

  it("go test on a module whose dependency comes from the user's module cache (GOPROXY=off)", async (t) => {
    const go = tool(t, "go");
    if (!go) return;
    // A module proxy on disk and a module cache filled from it on the host, as `go mod download` would.
    const proxy = path.join(base.path, "go-proxy", "example.com", "dep", "@v");
    mkdirSync(proxy, { recursive: true });
    const depMod = "module example.com/dep\n\ngo 1.19\n";
    writeFileSync(path.join(proxy, "list"), "v1.0.0\n");
    writeFileSync(path.join(proxy, "v1.0.0.info"), '{"Version":"v1.0.0","Time":"2024-01-01T00:00:00Z"}');
    writeFileSync(path.join(proxy, "v1.0.0.mod"), depMod);
    const zipRoot = path.join(base.path, "go-zip");
    const inZip = path.join(zipRoot, "example.com", "dep@v1.0.0");
    mkdirSync(inZip, { recursive: true });
    writeFileSync(path.join(inZip, "go.mod"), depMod);
    writeFileSync(path.join(inZip, "dep.go"), "package dep\n\nfunc Two() int { return 2 }\n");
    execFileSync("python3", [
      "-c",
      "import sys, zipfile, os\nz = zipfile.ZipFile(sys.argv[1], 'w')\nos.chdir(sys.argv[2])\nfor f in sorted(os.listdir('example.com/dep@v1.0.0')): z.write('example.com/dep@v1.0.0/' + f)\nz.close()",
      path.join(proxy, "v1.0.0.zip"),
      zipRoot,
    ]);
    const modCache = path.join(base.path, "gomodcache");
    const files = {
      "go.mod": "module example.com/app\n\ngo 1.19\n\nrequire example.com/dep v1.0.0\n",
      "app.go": 'package app\n\nimport "example.com/dep"\n\nfunc Four() int { return dep.Two() * 2 }\n',
      "app_test.go":
        'package app\n\nimport "testing"\n\nfunc TestFour(t *testing.T) {\n\tif Four() != 4 {\n\t\tt.Fatal("not four")\n\t}\n}\n',
    };
    const { outputs, mounts } = await run("go", files, ["go test ./... 2>&1"], {
      env: { ...process.env, GOMODCACHE: modCache },
      hostSetup: (repo) => {
        const env = {
          ...process.env,
          GOMODCACHE: modCache,
          GOPROXY: `file://${path.join(base.path, "go-proxy")}`,
          GOSUMDB: "off",
          GOFLAGS: "-mod=mod",
        };
        execFileSync(go, ["mod", "download", "example.com/dep"], { cwd: repo, env, stdio: "pipe" });
        // go.sum stays untracked: the workspace copies untracked files that are not ignored.
        execFileSync(go, ["mod", "tidy"], { cwd: repo, env, stdio: "pipe" });
      },
    });
    assert.match(outputs[0]!, /^ok\s+example\.com\/app/m);
    assert.equal(mounts.toolchain.env?.GOPROXY, "off");
  });
});
