/**
 * Workspace set-up benchmark for `npm run bench`: a generated repository with 200 tracked files and a
 * git-ignored `node_modules` of 30,000 files. Entourage's set-up (Workspace.create + dependency
 * detection + sandbox create, the dependencies mounted read-only rather than copied) next to `cp -a`
 * and `git clone` of the same repository, measured interleaved in the same run so all see the same
 * machine load. Timings are printed, never asserted.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createSandbox, detectMounts } from "../src/cli/compose.ts";
import { errorMessage } from "../src/core/index.ts";
import { createBwrapBackend } from "../src/sandbox/backends/index.ts";
import { DEFAULT_DEPENDENCY_DIRS, Workspace } from "../src/workspace/index.ts";

type Row = Record<string, string>;
type Table = (title: string, rows: Row[]) => void;

const TRACKED = 200;
const PACKAGES = 3000;
const FILES_PER_PACKAGE = 10;
const RUNS = 3; // cp -a of 30k files takes ~20 s on a loaded 2-core machine

function generateRepo(root: string): void {
  mkdirSync(root, { recursive: true });
  const git = (...args: string[]) =>
    execFileSync("git", ["-c", "user.name=Bench", "-c", "user.email=bench@localhost", ...args], {
      cwd: root,
      stdio: "pipe",
    });
  git("init", "-q");
  writeFileSync(path.join(root, ".gitignore"), "node_modules/\n");
  writeFileSync(path.join(root, "package.json"), '{"name":"bench","private":true}\n');
  for (let i = 0; i < TRACKED; i++) {
    const dir = path.join(root, "src", `m${i % 20}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, `f${i}.js`), `export const v${i} = ${i};\n`.repeat(20));
  }
  for (let p = 0; p < PACKAGES; p++) {
    const dir = path.join(root, "node_modules", `pkg-${p}`, "lib");
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, "..", "package.json"), `{"name":"pkg-${p}","version":"1.0.0"}\n`);
    for (let f = 1; f < FILES_PER_PACKAGE; f++)
      writeFileSync(path.join(dir, `f${f}.js`), `module.exports = ${p * f};\n`.repeat(8));
  }
  git("add", "-A");
  git("commit", "-q", "-m", "bench");
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (ms: number) => `${ms.toFixed(0)} ms`;

export async function workspaceSetupBench(table: Table): Promise<void> {
  const tmp = mkdtempSync(path.join(tmpdir(), "entourage-bench-setup-"));
  try {
    const repo = path.join(tmp, "repo");
    const genStart = performance.now();
    generateRepo(repo);
    const genMs = performance.now() - genStart;
    const bwrapOk = (await createBwrapBackend().probe()).available;
    const backend = bwrapOk ? "bwrap" : "subprocess";
    const config = {
      dependencyDirs: [...DEFAULT_DEPENDENCY_DIRS],
      toolchainPaths: [],
      entourageRuntime: false,
    };

    const times = {
      entourage: [] as number[],
      detect: [] as number[],
      cp: [] as number[],
      clone: [] as number[],
    };
    let mounted: string[] = [];
    for (let i = -1; i < RUNS; i++) {
      const run = path.join(tmp, `run-${i + 1}`);
      // Entourage: copy of the tracked files + shadow git baseline, detection, sandbox create.
      let start = performance.now();
      const workspace = await Workspace.create({ repo, dir: path.join(run, "entourage", "workspace") });
      const detectStart = performance.now();
      const mounts = await detectMounts(workspace.repo, config, "off");
      const detectMs = performance.now() - detectStart;
      await workspace.excludeFromSnapshots(mounts.dependencies.map((d) => d.path));
      const sandbox = await createSandbox(backend, workspace.dir, {
        network: "off",
        timeoutMs: 10_000,
        env: {},
        mounts,
      });
      const entourageMs = performance.now() - start;
      await sandbox.destroy();
      mounted = mounts.dependencies.map((d) => d.path);

      start = performance.now();
      execFileSync("cp", ["-a", repo, path.join(run, "cp")]);
      const cpMs = performance.now() - start;

      start = performance.now();
      execFileSync("git", ["clone", "-q", repo, path.join(run, "clone")], { stdio: "pipe" });
      const cloneMs = performance.now() - start;
      rmSync(run, { recursive: true, force: true });
      if (i < 0) continue; // warm-up: page cache, git's first start
      times.entourage.push(entourageMs);
      times.detect.push(detectMs);
      times.cp.push(cpMs);
      times.clone.push(cloneMs);
    }
    const e = median(times.entourage);
    const cp = median(times.cp);
    const clone = median(times.clone);
    table(
      `Workspace set-up: ${TRACKED} tracked files + git-ignored node_modules of ${(PACKAGES * FILES_PER_PACKAGE).toLocaleString("en")} files (median of ${RUNS}, interleaved; repo generated in ${fmt(genMs)})`,
      [
        {
          "set-up": `Entourage (Workspace.create + detection + ${backend} create; ${mounted.join(", ")} mounted read-only)`,
          median: fmt(e),
          "vs cp -a": `${(e / cp).toFixed(2)}×`,
          "vs git clone": `${(e / clone).toFixed(2)}×`,
        },
        {
          "set-up": "  of which dependency detection (git ls-files --ignored --directory)",
          median: fmt(median(times.detect)),
          "vs cp -a": "",
          "vs git clone": "",
        },
        {
          "set-up": "cp -a (everything, node_modules included)",
          median: fmt(cp),
          "vs cp -a": "1.00×",
          "vs git clone": `${(cp / clone).toFixed(2)}×`,
        },
        {
          "set-up": "git clone (tracked files only: no node_modules)",
          median: fmt(clone),
          "vs cp -a": `${(clone / cp).toFixed(2)}×`,
          "vs git clone": "1.00×",
        },
      ],
    );
  } catch (error) {
    table("Workspace set-up", [{ error: errorMessage(error) }]);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await workspaceSetupBench((title, rows) => {
    console.log(`\n${title}\n`);
    for (const row of rows) console.log(Object.values(row).join(" | "));
  });
}
