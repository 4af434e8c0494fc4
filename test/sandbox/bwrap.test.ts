import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { createBwrapBackend, selectDefaultBackend } from "../../src/sandbox/backends/index.ts";
import { SYSTEM_PATH } from "../../src/sandbox/toolchain.ts";
import { runSandboxConformance } from "../support/sandbox/sandbox.conformance.ts";
import { backendFixtures } from "../support/sandbox/sandbox.conformance-support.ts";

runSandboxConformance("bwrap", () => createBwrapBackend(), { isolated: true, dependencyMounts: "read-only" });

describe("bwrap backend specifics", () => {
  const backend = createBwrapBackend();
  const fixtures = backendFixtures("bwrap", backend);
  const { workspace, spec, available } = fixtures;

  before(async () => {
    await fixtures.before();
  });
  after(() => {
    fixtures.after();
  });

  it("is the default backend where it works, with cgroup and identity in the probe", async (t) => {
    if (!available(t)) return;
    const selected = await selectDefaultBackend();
    assert.equal(selected.backend?.name, "bwrap");
    const probe = await backend.probe();
    assert.match(probe.details?.cgroup ?? "", /^v[12] /);
    assert.match(probe.details?.identity ?? "", /uid \d+/);
  });

  it("runs `node --test` inside on the system's Node without a toolchain, never Entourage's own", async (t) => {
    if (!available(t)) return;
    const dir = workspace();
    writeFileSync(
      path.join(dir, "sum.test.js"),
      'const test = require("node:test"); const assert = require("node:assert");\ntest("adds", () => assert.equal(1 + 1, 2));\n',
    );
    const sandbox = await backend.create(spec(dir));
    try {
      const result = await sandbox.exec(["node", "--test"]);
      assert.equal(result.exitCode, 0, result.output);
      assert.match(result.output, /pass 1\n/);
      const system = execFileSync("/usr/bin/node", ["-p", "process.version"], { encoding: "utf8" });
      assert.equal((await sandbox.exec(["node", "-p", "process.version"])).output, system);
      assert.equal((await sandbox.exec(["sh", "-c", "echo $PATH"])).output, `${SYSTEM_PATH}\n`);
    } finally {
      await sandbox.destroy();
    }
  });

  it("lends the workspace to the sandbox uid and returns it on destroy", async (t) => {
    if (!available(t)) return;
    const dir = workspace();
    mkdirSync(path.join(dir, "src"), { mode: 0o700 });
    writeFileSync(path.join(dir, "src", "a.txt"), "a\n");
    const owner = statSync(dir).uid;
    const sandbox = await backend.create(spec(dir));
    try {
      const uid = sandbox.runAs?.uid ?? process.getuid?.();
      assert.equal(statSync(path.join(dir, "src", "a.txt")).uid, uid);
      const result = await sandbox.exec([
        "sh",
        "-c",
        "echo b >> src/a.txt && mkdir new && echo c > new/c.txt",
      ]);
      assert.equal(result.exitCode, 0, result.output);
    } finally {
      await sandbox.destroy();
    }
    for (const file of ["src/a.txt", "new", "new/c.txt"])
      assert.equal(statSync(path.join(dir, file)).uid, owner, file);
  });

  it("keeps HOME across commands of a session, /tmp not", async (t) => {
    if (!available(t)) return;
    const sandbox = await backend.create(spec(workspace()));
    try {
      await sandbox.exec(["sh", "-c", 'echo kept > "$HOME/x"; echo gone > /tmp/y']);
      const result = await sandbox.exec(["sh", "-c", 'cat "$HOME/x"; cat /tmp/y']);
      assert.match(result.output, /^kept\n.*No such file/s);
    } finally {
      await sandbox.destroy();
    }
  });

  it("reaches 127.0.0.1 only when the network is on", async (t) => {
    if (!available(t)) return;
    const server = createServer((socket) => socket.end("hi\n"));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as { port: number }).port;
    const script = `require("net").connect(${port}, "127.0.0.1").on("data", (d) => { process.stdout.write(d); process.exit(0); }).on("error", (e) => { console.log(e.code); process.exit(3); })`;
    const sandbox = await backend.create(spec(workspace(), { network: "on" }));
    try {
      const result = await sandbox.exec(["node", "-e", script]);
      assert.equal(result.output, "hi\n");
    } finally {
      await sandbox.destroy();
      server.close();
    }
  });

  it("removes its cgroup on destroy", async (t) => {
    if (!available(t)) return;
    const base = "/sys/fs/cgroup/pids/entourage";
    if (!existsSync(base)) return t.skip("no cgroup v1 pids hierarchy here");
    const leaves = () =>
      new Set(
        readdirSync(base, { withFileTypes: true })
          .filter((d) => d.isDirectory())
          .map((d) => d.name),
      );
    const before = leaves();
    const sandbox = await backend.create(spec(workspace()));
    const mine = [...leaves()].filter((name) => !before.has(name));
    await sandbox.exec(["true"]);
    await sandbox.destroy();
    assert.equal(mine.length, 1, "one session cgroup while the sandbox lives");
    assert.equal(existsSync(path.join(base, mine[0]!)), false);
  });
});
