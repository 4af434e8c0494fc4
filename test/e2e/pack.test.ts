/**
 * The package as a user gets it (issue 14): `npm pack` of a copy of this checkout with the machine's own npm
 * (PATH=/usr/bin:/bin, so npm runs on the system Node — 20 here, as on a fresh machine), a global install of the
 * tarball into a private prefix, then `entourage demo --yes` and `entourage doctor` from that prefix. Neither the
 * install nor the demo may print a warning; the CLI must run on the Node 24 that comes with the package; and
 * the launcher with no Node 24 anywhere must say so and exit 2. Installed as a project's dependency, `npx entourage`
 * finds the node-linux-<arch> npm hoisted beside it. The runtime dependencies come from the tarball
 * (bundled); the only registry fetch is the optional node-linux-<arch>, usually from npm's cache.
 */
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ROOT, removeDir, tempDir } from "../helpers/cli.ts";

const SYSTEM_PATH = "/usr/bin:/bin";
const ARCH = process.arch === "arm64" ? "arm64" : "x64";

/** The machine's own npm; under ENTOURAGE_CI=1 a missing one fails (.ci/run's npm ci needs it anyway). */
function systemNpm(): string | undefined {
  const found = SYSTEM_PATH.split(":")
    .map((dir) => join(dir, "npm"))
    .find((file) => existsSync(file));
  if (found) return found;
  if (process.env.ENTOURAGE_CI === "1") throw new Error("no npm in /usr/bin or /bin: the pack test needs it");
  return undefined;
}

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

function run(command: string, args: string[], options: { cwd: string; env: Record<string, string> }) {
  const started = performance.now();
  return new Promise<Result>((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) =>
      resolve({ code, stdout, stderr, ms: Math.round(performance.now() - started) }),
    );
  });
}

/** Lines of npm's or the CLI's stderr that warn (npm's `notice` lines, the tarball listing, are fine). */
function warnings(stderr: string): string[] {
  return stderr.split("\n").filter((line) => /warn/i.test(line));
}

/** Only what a sh launcher needs besides its builtins; no node. */
function toolsWithoutNode(dir: string): string {
  mkdirSync(dir, { recursive: true });
  for (const tool of ["dirname", "readlink", "uname"]) {
    const real = ["/usr/bin", "/bin"].map((d) => join(d, tool)).find((f) => existsSync(f));
    assert.ok(real, `${tool} is not in /usr/bin or /bin`);
    symlinkSync(real, join(dir, tool));
  }
  return dir;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

const npm = systemNpm();

describe("the package: npm pack, a global install on the system Node, entourage demo", {
  skip: !npm && "no npm in /usr/bin or /bin",
}, () => {
  let work: string;
  let prefix: string;
  let home: string;
  let tarball: string;
  let installed: string;
  /**
   * A fresh machine's environment: the system PATH, npm's usual cache and ~/.npmrc (HOME), and how this machine
   * reaches the registry (proxy, CA certificates: without them each fetch fails three times, ~70 s, before npm
   * falls back to its cache). Nothing of a parent npm (`npm_*`) or of the checkout's Node.
   */
  const npmEnv = () => ({
    ...Object.fromEntries(
      Object.entries(process.env).filter(
        (e): e is [string, string] =>
          e[1] !== undefined &&
          /^(https?_proxy|no_proxy|NODE_EXTRA_CA_CERTS|SSL_CERT_FILE|SSL_CERT_DIR)$/i.test(e[0]),
      ),
    ),
    PATH: SYSTEM_PATH,
    HOME: process.env.HOME ?? "/root",
    NO_COLOR: "1",
    // The one registry fetch (node-linux-<arch>): a stalled connection is retried after 30 s instead of
    // npm's default 5 minutes, which outlasted the test's timeout once in the full suite.
    npm_config_fetch_timeout: "30000",
    npm_config_fetch_retries: "4",
  });
  const userEnv = (path: string) => ({ PATH: path, HOME: home, ENTOURAGE_HOME: home, NO_COLOR: "1" });

  before(async () => {
    work = tempDir("pack");
    prefix = join(work, "prefix");
    home = join(work, "home");
    mkdirSync(home);
    const checkout = join(work, "checkout");
    const skip = new Set([
      "node_modules",
      ".git",
      "dist",
      "test-artifacts",
      ".entourage-test",
      ".pack-aside",
    ]);
    cpSync(ROOT, checkout, {
      recursive: true,
      filter: (src) => {
        const rel = src.slice(ROOT.length + 1);
        return (
          !skip.has(rel) &&
          rel !== "web/dist" &&
          !/^entourage-.*\.tgz$/.test(rel) &&
          !rel.endsWith(".packing")
        );
      },
    });
    // Hard links: the copy's node_modules costs nothing (the pack hooks replace files there, never write into them).
    execFileSync("cp", ["-al", join(ROOT, "node_modules"), join(checkout, "node_modules")]);
    const original = readFileSync(join(checkout, "package.json"), "utf8");

    const pack = await run(npm!, ["pack", "--pack-destination", work], { cwd: checkout, env: npmEnv() });
    assert.equal(pack.code, 0, pack.stderr.slice(-3000));
    const name = readdirSync(work).find((f) => /^entourage-.*\.tgz$/.test(f));
    assert.ok(name, `no tarball in ${work}: ${pack.stdout.slice(-2000)}`);
    tarball = join(work, name);
    assert.equal(
      readFileSync(join(checkout, "package.json"), "utf8"),
      original,
      "postpack restores package.json",
    );
    assert.ok(!existsSync(join(checkout, ".package.json.packing")));

    const install = await run(
      npm!,
      ["install", "-g", "--prefix", prefix, "--no-audit", "--no-fund", tarball],
      {
        cwd: work,
        env: npmEnv(),
      },
    );
    assert.equal(install.code, 0, install.stderr.slice(-3000));
    assert.deepEqual(warnings(install.stderr), [], install.stderr);
    installed = join(prefix, "lib", "node_modules", "entourage");
    process.stdout.write(
      `# npm pack ${(pack.ms / 1000).toFixed(1)} s; npm install -g ${(install.ms / 1000).toFixed(1)} s on ${execFileSync(
        "node",
        ["--version"],
        { env: npmEnv() },
      )
        .toString()
        .trim()}\n`,
    );
  });

  after(() => removeDir(work));

  it("packs the runtime dependencies, not the Node binary, the build step or native build output", () => {
    const files = execFileSync("tar", ["-tzf", tarball], { maxBuffer: 64 * 1024 * 1024 })
      .toString()
      .split("\n");
    for (const dep of Object.keys(JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).dependencies))
      assert.ok(files.includes(`package/node_modules/${dep}/package.json`), `${dep} is bundled`);
    assert.ok(
      !files.some((f) => f.startsWith("package/node_modules/node-linux-")),
      "node-linux-* is fetched, not bundled",
    );
    assert.ok(!files.some((f) => f.startsWith("package/node_modules/cpu-features/build/")));
    assert.ok(!files.some((f) => f.startsWith("package/node_modules/typescript/")), "no dev dependency");
    const packed = JSON.parse(execFileSync("tar", ["-xzOf", tarball, "package/package.json"]).toString());
    assert.equal(packed.scripts.prepare, undefined, "a global install must not try to build");
    assert.ok(existsSync(join(installed, "node_modules", `node-linux-${ARCH}`, "bin", "node")));
  });

  it("runs entourage demo --yes from the global install, without a warning", async () => {
    const demo = await run(join(prefix, "bin", "entourage"), ["demo", "--yes"], {
      cwd: work,
      env: userEnv(`${join(prefix, "bin")}:${SYSTEM_PATH}`),
    });
    assert.equal(demo.code, 0, demo.stderr + demo.stdout.slice(-2000));
    assert.match(demo.stdout, /✔ succeeded/);
    assert.deepEqual(warnings(demo.stderr), [], demo.stderr);
    // Not run through npx: the hints name the command as installed.
    assert.match(demo.stdout, /\nSee the change: entourage diff run_\w+/);
    process.stdout.write(`# entourage demo --yes ${(demo.ms / 1000).toFixed(1)} s\n`);
  });

  it("runs on the Node 24 that comes with the package (entourage doctor)", async () => {
    const doctor = await run(join(prefix, "bin", "entourage"), ["doctor"], {
      cwd: work,
      env: userEnv(`${join(prefix, "bin")}:${SYSTEM_PATH}`),
    });
    const node = join(installed, "node_modules", `node-linux-${ARCH}`, "bin", "node");
    assert.match(
      doctor.stdout,
      new RegExp(`node v24\\.\\d+\\.\\d+ \\(${escapeRegExp(node)};`),
      doctor.stdout,
    );
  });

  it("installs as a project's dependency too: npx entourage runs on the hoisted node-linux-*", async () => {
    const project = join(work, "project");
    mkdirSync(project);
    writeFileSync(
      join(project, "package.json"),
      '{ "name": "a-project", "version": "1.0.0", "private": true }\n',
    );
    const install = await run(npm!, ["install", "--no-audit", "--no-fund", tarball], {
      cwd: project,
      env: npmEnv(),
    });
    assert.equal(install.code, 0, install.stderr.slice(-3000));
    assert.deepEqual(warnings(install.stderr), [], install.stderr);
    const npx = join(npm!, "..", "npx");
    const doctor = await run(npx, ["entourage", "doctor"], {
      cwd: project,
      env: { ...npmEnv(), HOME: home },
    });
    const node = join(project, "node_modules", `node-linux-${ARCH}`, "bin", "node");
    assert.match(
      doctor.stdout,
      new RegExp(`node v24\\.\\d+\\.\\d+ \\(${escapeRegExp(node)};`),
      doctor.stdout + doctor.stderr,
    );
    assert.deepEqual(warnings(doctor.stderr), [], doctor.stderr);
  });

  it("without its Node and with no Node 24 on PATH, the launcher says what to do and exits 2", async () => {
    const bundled = join(installed, "node_modules", `node-linux-${ARCH}`);
    const moved = `${bundled}.moved`;
    renameSync(bundled, moved);
    try {
      const launcher = join(prefix, "bin", "entourage");
      const none = await run(launcher, ["demo", "--yes"], {
        cwd: work,
        env: userEnv(toolsWithoutNode(join(work, "tools"))),
      });
      assert.equal(none.code, 2, none.stderr);
      assert.match(none.stderr, /entourage needs Node\.js 24 or newer, and found none/);
      assert.match(none.stderr, new RegExp(`node-linux-${ARCH}`));
      assert.match(none.stderr, /the node on PATH is missing/);

      // The system's node (20 on this machine) is not enough; a Node 24 on PATH is used.
      const system = execFileSync("node", ["--version"], { env: npmEnv() }).toString().trim();
      const old = await run(launcher, ["--version"], { cwd: work, env: userEnv(SYSTEM_PATH) });
      if (Number(system.slice(1).split(".")[0]) < 24) {
        assert.equal(old.code, 2, old.stderr);
        assert.match(old.stderr, new RegExp(`the node on PATH is ${system.replace(/\./g, "\\.")}`));
      } else assert.equal(old.code, 0, old.stderr);
      const onPath = await run(launcher, ["doctor"], {
        cwd: work,
        env: userEnv(`${join(process.execPath, "..")}:${SYSTEM_PATH}`),
      });
      assert.match(
        onPath.stdout,
        new RegExp(`node ${process.version.replace(/\./g, "\\.")} \\(`),
        onPath.stderr,
      );
    } finally {
      renameSync(moved, bundled);
    }
  });
});
