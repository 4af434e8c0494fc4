/**
 * A real repository's tests in the docker sandbox's language images, against the running dockerd: pytest
 * (failing, then passing) in the python image, `go test` in the go image, `cargo test --offline` in the rust
 * image, and `npm test` in the node image finding a package in the repository's git-ignored node_modules
 * through the dependency mount.
 *
 * The images are not built here (one is minutes of mmdebstrap): `entourage sandbox build-image all` builds
 * each once per machine (the content hash skips rebuilds; .ci/run does it). A missing image skips its test,
 * or fails it with the build command under ENTOURAGE_CI=1.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it, type TestContext } from "node:test";
import type Docker from "dockerode";
import { chooseDockerImage } from "../../src/cli/image-choice.ts";
import { connectDocker, pingDocker } from "../../src/sandbox/backends/docker/client.ts";
import { inspectImage } from "../../src/sandbox/backends/docker/image.ts";
import { IMAGE_RECIPES, type ImageLanguage } from "../../src/sandbox/backends/docker/image-recipes.ts";
import { createDockerBackend } from "../../src/sandbox/backends/index.ts";
import { DEFAULT_LIMITS, type Sandbox, type SandboxSpec } from "../../src/sandbox/index.ts";
import { Workspace } from "../../src/workspace/index.ts";
import { TINY_PROJECTS, writeFiles } from "../helpers/language-projects.ts";
import { missingDependency } from "../support/sandbox/sandbox.conformance-support.ts";

const backend = createDockerBackend();
const dirs: string[] = [];
const temp = (label: string) => {
  const dir = mkdtempSync(path.join(tmpdir(), `entourage-images-${label}-`));
  dirs.push(dir);
  return dir;
};
const write = writeFiles;
const spec = (workspace: string, over: Partial<SandboxSpec> = {}): SandboxSpec => ({
  workspace,
  network: "off",
  limits: { ...DEFAULT_LIMITS, timeoutMs: 300_000 },
  ...over,
});

let docker: Docker | undefined;
let daemonReason: string | undefined;
before(async () => {
  const client = await connectDocker();
  const ping = await pingDocker(client);
  if (ping.ok) docker = client;
  else daemonReason = ping.reason;
});
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** The language's image when it is built here; otherwise skips (fails under ENTOURAGE_CI=1) saying how to build it. */
async function imageFor(t: TestContext, language: ImageLanguage): Promise<string | undefined> {
  const image = IMAGE_RECIPES[language].image;
  if (!docker) {
    missingDependency(t, `docker unavailable: ${daemonReason}`);
    return undefined;
  }
  if (!(await inspectImage(docker, image))) {
    missingDependency(
      t,
      `the ${language} sandbox image ${image} is not built: run \`entourage sandbox build-image ${language}\` (or \`all\`) once on this machine`,
    );
    return undefined;
  }
  return image;
}

async function withSandbox<T>(s: SandboxSpec, use: (sandbox: Sandbox) => Promise<T>): Promise<T> {
  const sandbox = await backend.create(s);
  try {
    return await use(sandbox);
  } finally {
    await sandbox.destroy();
  }
}

describe("docker language images run a repository's tests", () => {
  it("python: pytest fails on the bug, then passes once it is fixed", async (t) => {
    const image = await imageFor(t, "python");
    if (!image) return;
    const repo = write(temp("py"), {
      ...TINY_PROJECTS.python.files,
      "calc.py": "def add(a, b):\n    return a - b\n",
    });
    assert.deepEqual(await chooseDockerImage(undefined, repo), {
      image,
      reason: "the repository has pyproject.toml",
    });
    await withSandbox(spec(repo, { image: "python" }), async (sandbox) => {
      const failing = await sandbox.exec(TINY_PROJECTS.python.test);
      assert.equal(failing.exitCode, 1, failing.output);
      assert.match(failing.output, /1 failed/);
      assert.match(failing.output, /assert -1 == 5/);
      writeFileSync(path.join(repo, "calc.py"), "def add(a, b):\n    return a + b\n");
      const passing = await sandbox.exec(TINY_PROJECTS.python.test);
      assert.equal(passing.exitCode, 0, passing.output);
      assert.match(passing.output, /1 passed/);
      const venv = await sandbox.exec(["sh", "-c", "python3 -m venv /tmp/v && /tmp/v/bin/pip --version"]);
      assert.equal(venv.exitCode, 0, venv.output);
    });
    assert.ok(!existsSync(path.join(repo, "tests", "__pycache__")), "no bytecode left in the workspace");
  });

  it("go: go test passes in a module, with the build cache in the sandbox's HOME", async (t) => {
    const image = await imageFor(t, "go");
    if (!image) return;
    const repo = write(temp("go"), TINY_PROJECTS.go.files);
    assert.equal((await chooseDockerImage(undefined, repo)).image, image);
    await withSandbox(spec(repo, { image }), async (sandbox) => {
      const result = await sandbox.exec(TINY_PROJECTS.go.test);
      assert.equal(result.exitCode, 0, result.output);
      assert.match(result.output, /^ok\s+example\.com\/sum/m);
    });
  });

  it("rust: cargo test --offline passes for a tiny crate", async (t) => {
    const image = await imageFor(t, "rust");
    if (!image) return;
    const repo = write(temp("rs"), TINY_PROJECTS.rust.files);
    assert.equal((await chooseDockerImage(undefined, repo)).image, image);
    await withSandbox(spec(repo, { image: "rust" }), async (sandbox) => {
      const result = await sandbox.exec(TINY_PROJECTS.rust.test);
      assert.equal(result.exitCode, 0, result.output);
      assert.match(result.output, /test tests::doubles \.\.\. ok/);
      assert.match(result.output, /test result: ok\. 1 passed/);
    });
  });

  it("node: npm test finds a package in the repository's git-ignored node_modules through the dependency mount", async (t) => {
    const image = await imageFor(t, "node");
    if (!image) return;
    const repo = write(temp("js"), {
      ".gitignore": "node_modules/\n",
      "package.json": '{"name":"app","version":"1.0.0","scripts":{"test":"node --test"}}\n',
      "test/greet.test.js":
        'const test = require("node:test");\nconst assert = require("node:assert");\nconst greet = require("greet");\ntest("greets", () => assert.equal(greet("Ada"), "Hello, Ada!"));\n',
      // A small hand-written package, as `npm install` would leave it (ignored by git).
      "node_modules/greet/package.json": '{"name":"greet","version":"1.0.0","main":"index.js"}\n',
      "node_modules/greet/index.js": "module.exports = (name) => 'Hello, ' + name + '!';\n",
    });
    const git = (...args: string[]) => execFileSync("git", args, { cwd: repo, stdio: "pipe" });
    git("init", "-q");
    git("add", ".");
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "app");
    const workspace = await Workspace.create({ repo, dir: path.join(temp("js-run"), "workspace") });
    assert.ok(!existsSync(path.join(workspace.dir, "node_modules")), "node_modules is not in the copy");
    assert.equal((await chooseDockerImage(undefined, repo)).image, image);

    const without = await withSandbox(spec(workspace.dir, { image }), (sandbox) =>
      sandbox.exec(["npm", "test"]),
    );
    assert.notEqual(without.exitCode, 0, without.output);
    assert.match(without.output, /Cannot find module 'greet'/);

    const dependencies = [{ source: path.join(repo, "node_modules"), path: "node_modules" }];
    await withSandbox(spec(workspace.dir, { image, dependencies }), async (sandbox) => {
      const result = await sandbox.exec(["npm", "test"]);
      assert.equal(result.exitCode, 0, result.output);
      assert.match(result.output, /pass 1/);
      assert.match((await sandbox.exec(["node", "--version"])).output, /^v18\./, "Debian's nodejs");
    });
    assert.ok(!existsSync(path.join(workspace.dir, "node_modules")), "the mountpoint is removed on destroy");
  });
});
