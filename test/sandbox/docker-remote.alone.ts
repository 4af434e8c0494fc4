// Run on its own after the main suite (package.json "test"): its containment probes (a real fork bomb, a
// memory bomb) on a second engine, at the same time as another file's, starved the kill exec of processes
// ("Cannot fork") on this 2-core machine; alone they pass.
import assert from "node:assert/strict";
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import {
  connectDocker,
  DEFAULT_SANDBOX_IMAGE,
  pingDocker,
} from "../../src/sandbox/backends/docker/client.ts";
import { inspectImage } from "../../src/sandbox/backends/docker/image.ts";
import { createDockerBackend } from "../../src/sandbox/backends/index.ts";
import { type RemoteDockerd, startRemoteDockerd } from "../support/sandbox/remote-dockerd.ts";
import { runSandboxConformance } from "../support/sandbox/sandbox.conformance.ts";
import { backendFixtures } from "../support/sandbox/sandbox.conformance-support.ts";

/**
 * The docker backend against a remote engine: a second, real dockerd on this machine reached over TCP with
 * mutual TLS (test/support/sandbox/remote-dockerd.ts), the sandbox image copied into it. DOCKER_HOST,
 * DOCKER_TLS_VERIFY and DOCKER_CERT_PATH point at it, as a user would set them; the workspace travels
 * through the archive endpoints. The same conformance and containment suites run as for the local engine.
 *
 * Without a local Docker engine (nothing to start the second one from) everything skips with the reason —
 * or fails under ENTOURAGE_CI=1, as does a second engine that does not start.
 */
let remote: RemoteDockerd | undefined;
let remoteError: string | undefined;
const saved = {
  DOCKER_HOST: process.env.DOCKER_HOST,
  DOCKER_TLS_VERIFY: process.env.DOCKER_TLS_VERIFY,
  DOCKER_CERT_PATH: process.env.DOCKER_CERT_PATH,
};

before(
  async () => {
    try {
      const local = await connectDocker();
      const ping = await pingDocker(local);
      if (!ping.ok) throw new Error(ping.reason);
      if (!(await inspectImage(local, DEFAULT_SANDBOX_IMAGE)))
        throw new Error(`${DEFAULT_SANDBOX_IMAGE} is not built locally (entourage sandbox build-image)`);
      remote = await startRemoteDockerd([DEFAULT_SANDBOX_IMAGE]);
      Object.assign(process.env, remote.env);
    } catch (error) {
      remoteError = `the second Docker engine could not be started: ${error}`;
      if (process.env.ENTOURAGE_CI === "1") throw error;
      // Never fall back to the local engine: point at an address nothing answers, so the probe says why.
      Object.assign(process.env, {
        DOCKER_HOST: "tcp://127.0.0.1:9",
        DOCKER_TLS_VERIFY: "",
        DOCKER_CERT_PATH: "",
      });
    }
  },
  { timeout: 180_000 },
);

after(async () => {
  for (const [key, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
  await remote?.stop();
});

runSandboxConformance("docker (remote engine)", () => createDockerBackend(), {
  isolated: true,
  dependencyMounts: "read-only",
});

describe("docker backend on a remote engine: the workspace travels", () => {
  const backend = createDockerBackend();
  const fixtures = backendFixtures("docker-remote", backend);
  const sh = (script: string) => ["sh", "-c", script];

  before(async () => {
    await fixtures.before(remoteError);
  });
  after(() => fixtures.after());

  it("says in the probe (entourage doctor) that the engine is remote, over TLS with a client certificate", async (t) => {
    if (!fixtures.available(t)) return;
    const probe = await backend.probe();
    assert.equal(probe.available, true, probe.reason);
    assert.match(
      probe.details?.engine ?? "",
      /^tcp:\/\/127\.0\.0\.1:\d+ over TLS with a client certificate \(remote: the workspace is copied/,
    );
  });

  it("carries host files in, and the command's new, changed, deleted and chmod'ed files back out", async (t) => {
    if (!fixtures.available(t)) return;
    const workspace = fixtures.workspace();
    mkdirSync(path.join(workspace, "src"));
    writeFileSync(path.join(workspace, "src", "keep.txt"), "kept\n");
    writeFileSync(path.join(workspace, "src", "edit.txt"), "before\n");
    writeFileSync(path.join(workspace, "gone.txt"), "delete me\n");
    const sb = await backend.create(fixtures.spec(workspace));
    try {
      const run = await sb.exec(
        sh(
          "cat src/keep.txt && echo after >> src/edit.txt && rm gone.txt && mkdir -p new/deep && " +
            "echo made > new/deep/file.txt && printf '#!/bin/sh\\n' > run.sh && chmod 755 run.sh && " +
            "ln -s src/keep.txt link && pwd",
        ),
      );
      assert.equal(run.exitCode, 0, run.output);
      assert.equal(
        run.output,
        `kept\n${workspace}\n`,
        "the container sees the host's files at the host's path",
      );
      assert.equal(readFileSync(path.join(workspace, "src", "edit.txt"), "utf8"), "before\nafter\n");
      assert.equal(existsSync(path.join(workspace, "gone.txt")), false, "a deletion travels back");
      assert.equal(readFileSync(path.join(workspace, "new", "deep", "file.txt"), "utf8"), "made\n");
      assert.equal(statSync(path.join(workspace, "run.sh")).mode & 0o777, 0o755);
      assert.equal(readlinkSync(path.join(workspace, "link")), "src/keep.txt");
      assert.equal(
        statSync(path.join(workspace, "new")).uid,
        process.getuid?.(),
        "host files keep the host's owner",
      );

      // Host-side edits (the agent's file tools) and deletions reach the next command.
      writeFileSync(path.join(workspace, "src", "edit.txt"), "rewritten on the host\n");
      rmSync(path.join(workspace, "new"), { recursive: true });
      chmodSync(path.join(workspace, "run.sh"), 0o644);
      const next = await sb.exec(sh("cat src/edit.txt; ls; stat -c %a run.sh"));
      assert.equal(next.output, "rewritten on the host\nlink\nrun.sh\nsrc\n644\n");
    } finally {
      await sb.destroy();
    }
  });

  it("brings back what a timed-out command wrote before it was killed", async (t) => {
    if (!fixtures.available(t)) return;
    const workspace = fixtures.workspace();
    const sb = await backend.create(fixtures.spec(workspace));
    try {
      const run = await sb.exec(sh("echo partial > progress.txt; exec sleep 60"), { timeoutMs: 1500 });
      assert.equal(run.timedOut, true);
      assert.equal(readFileSync(path.join(workspace, "progress.txt"), "utf8"), "partial\n");
    } finally {
      await sb.destroy();
    }
  });

  it("still uploads a host-side edit made while a command ran", async (t) => {
    if (!fixtures.available(t)) return;
    const workspace = fixtures.workspace();
    const sb = await backend.create(fixtures.spec(workspace));
    try {
      const abort = new AbortController();
      const run = await sb.exec(sh("echo ready; exec sleep 60"), {
        signal: abort.signal,
        onOutput: (chunk) => {
          if (!chunk.text.includes("ready")) return;
          writeFileSync(path.join(workspace, "during.txt"), "written by a host-side tool\n");
          abort.abort();
        },
      });
      assert.equal(run.killed, true);
      const next = await sb.exec(sh("cat during.txt"));
      assert.equal(next.output, "written by a host-side tool\n");
    } finally {
      await sb.destroy();
    }
  });

  it("brings the rest back when a command leaves a name that is not UTF-8, and says which stayed", async (t) => {
    if (!fixtures.available(t)) return;
    const workspace = fixtures.workspace();
    const sb = await backend.create(fixtures.spec(workspace));
    try {
      const run = await sb.exec(sh(`printf x > "$(printf 'bad\\377name')"; echo ok > good.txt`));
      assert.equal(run.exitCode, 0, run.output);
      assert.match(
        run.output,
        /1 name\(s\) that are not UTF-8 stayed in the remote sandbox.*"bad\uFFFDname"/,
      );
      assert.equal(readFileSync(path.join(workspace, "good.txt"), "utf8"), "ok\n");
      const again = await sb.exec(["true"]);
      assert.equal(again.output, "", "reported once");
    } finally {
      await sb.destroy();
    }
  });

  it("never writes through a symlink the command planted: a link to a host folder stays a link", async (t) => {
    if (!fixtures.available(t)) return;
    const workspace = fixtures.workspace();
    const outside = fixtures.workspace();
    const sb = await backend.create(fixtures.spec(workspace));
    try {
      const plant = await sb.exec(sh(`ln -s ${outside} out && mkdir real && echo x > real/f`));
      assert.equal(plant.exitCode, 0, plant.output);
      assert.equal(lstatSync(path.join(workspace, "out")).isSymbolicLink(), true);
      // In the container the link points into the container's own filesystem; nothing reaches the host folder.
      const write = await sb.exec(sh("echo pwned > out/pwned"));
      assert.notEqual(write.exitCode, 0, "the link leads into the container's own (read-only) filesystem");
      const swap = await sb.exec(sh(`rm -rf real && ln -s ${outside} real && echo y > real/f2; true`));
      assert.equal(swap.exitCode, 0, swap.output);
      assert.deepEqual(readdirSync(outside), [], "the host folder the links point to stays empty");
      assert.equal(lstatSync(path.join(workspace, "real")).isSymbolicLink(), true);
    } finally {
      await sb.destroy();
    }
  });

  it("refuses a client without the TLS client certificate", async (t) => {
    if (!fixtures.available(t) || !remote) return;
    // dockerode fills in what the options leave out from DOCKER_CERT_PATH: without it, only the CA is given.
    const env = { ...process.env };
    delete process.env.DOCKER_CERT_PATH;
    delete process.env.DOCKER_TLS_VERIFY;
    delete process.env.DOCKER_HOST;
    const port = Number(remote.host.split(":").pop());
    const ca = readFileSync(path.join(remote.certDir, "ca.pem"));
    const anonymous = await connectDocker({ host: "127.0.0.1", port, protocol: "https", ca });
    Object.assign(process.env, env);
    const ping = await pingDocker(anonymous);
    assert.equal(ping.ok, false);
    assert.match(ping.ok ? "" : ping.reason, /bad certificate/);
  });
});
