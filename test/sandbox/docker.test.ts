import assert from "node:assert/strict";
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type Docker from "dockerode";
import { UserError } from "../../src/core/index.ts";
import {
  connectDocker,
  DEFAULT_SANDBOX_IMAGE,
  LABEL_OWNER_HOST,
  LABEL_OWNER_PID,
  LABEL_SANDBOX,
  LABEL_SESSION,
  pingDocker,
} from "../../src/sandbox/backends/docker/client.ts";
import {
  buildSandboxImage,
  IMAGE_SANDBOX_USER,
  inspectImage,
} from "../../src/sandbox/backends/docker/image.ts";
import { createDockerBackend } from "../../src/sandbox/backends/index.ts";
import { DEFAULT_LIMITS, type Sandbox } from "../../src/sandbox/index.ts";
import { runSandboxConformance } from "../support/sandbox/sandbox.conformance.ts";
import { backendFixtures } from "../support/sandbox/sandbox.conformance-support.ts";

/**
 * The image is built once (≈ 35 s) when the daemon runs and it is missing. Without Docker or mmdebstrap the
 * suites below skip with the probe's reason, or fail under ENTOURAGE_CI=1.
 */
let imageError: string | undefined;
before(
  async () => {
    const docker = await connectDocker();
    if (!(await pingDocker(docker)).ok) return;
    if (await inspectImage(docker, DEFAULT_SANDBOX_IMAGE)) return;
    try {
      await buildSandboxImage({ onProgress: (line) => console.error(`[build-image] ${line}`) });
    } catch (error) {
      imageError = String(error);
      if (process.env.ENTOURAGE_CI === "1") throw error;
    }
  },
  { timeout: 600_000 },
);

runSandboxConformance("docker", () => createDockerBackend(), {
  isolated: true,
  dependencyMounts: "read-only",
});

describe("docker backend specifics", () => {
  const backend = createDockerBackend();
  let docker: Docker;
  const fixtures = backendFixtures("docker", backend);
  const { workspace, spec, available } = fixtures;
  /** Command lines of the processes inside the sandbox, seen from inside. */
  const processes = async (sandbox: Sandbox) => {
    const result = await sandbox.exec(["ps", "-eo", "user:12,pid,pgid,args"]);
    assert.equal(result.exitCode, 0, result.output);
    return result.output;
  };

  before(async () => {
    docker = await connectDocker();
    await fixtures.before(imageError);
  });
  after(() => {
    fixtures.after();
  });

  it("probes the daemon and the image", async (t) => {
    if (!available(t)) return;
    const probe = await backend.probe();
    assert.match(probe.details?.daemon ?? "", /API \d/);
    assert.match(probe.details?.image ?? "", /entourage\/sandbox:bookworm/);
    assert.equal(probe.details?.network, "none");
    const missing = await createDockerBackend({ image: "entourage/sandbox:no-such-tag" }).probe();
    assert.equal(missing.available, false);
    assert.match(missing.reason ?? "", /entourage sandbox build-image/);
  });

  it("says what to install when the daemon cannot be reached", async () => {
    const probe = await createDockerBackend({ docker: { socketPath: "/nonexistent/docker.sock" } }).probe();
    assert.equal(probe.available, false);
    assert.match(
      probe.reason ?? "",
      /not reachable at unix:\/\/\/nonexistent\/docker\.sock.*apt-get install docker\.io/,
    );
  });

  it("kills every process of a timed-out command, seen from inside (setsid, ignored TERM, cleared environment)", async (t) => {
    if (!available(t)) return;
    const sandbox = await backend.create(spec(workspace()));
    try {
      const marker = `7${Math.floor(Math.random() * 1e5)}`;
      const result = await sandbox.exec(
        [
          "sh",
          "-c",
          `sleep ${marker}1 & setsid sleep ${marker}2 & (trap '' TERM HUP; sleep ${marker}3) & ` +
            `env -i /usr/bin/setsid /bin/sleep ${marker}4 & sleep ${marker}5`,
        ],
        { timeoutMs: 700 },
      );
      assert.equal(result.exitCode, 124);
      assert.equal(result.timedOut, true);
      const ps = await processes(sandbox);
      assert.doesNotMatch(ps, new RegExp(`sleep ${marker}`), ps);
      const wrappers = ps.split("\n").filter((line) => line.includes("entourage-exec"));
      assert.equal(wrappers.length, 1, `only the wrapper of ps itself remains:\n${ps}`);
      assert.match(ps, /sleep infinity/, "the container's keeper survives");
    } finally {
      await sandbox.destroy();
    }
  });

  it("with another command running, kills only the timed-out command's processes", async (t) => {
    if (!available(t)) return;
    const sandbox = await backend.create(spec(workspace()));
    try {
      const other = new AbortController();
      const survivor = sandbox.exec(["sleep", "4242"], { signal: other.signal });
      await new Promise((resolve) => setTimeout(resolve, 300));
      const result = await sandbox.exec(["sh", "-c", "setsid sleep 4343 & sleep 4344"], { timeoutMs: 600 });
      assert.equal(result.exitCode, 124);
      const ps = await processes(sandbox);
      assert.doesNotMatch(ps, /sleep 434[34]/, ps);
      assert.match(ps, /sleep 4242/, "the other command still runs");
      other.abort();
      const aborted = await survivor;
      assert.equal(aborted.exitCode, 137);
      assert.doesNotMatch(await processes(sandbox), /sleep 4242/);
    } finally {
      await sandbox.destroy();
    }
  });

  it("reaps background jobs when a command ends normally", async (t) => {
    if (!available(t)) return;
    const sandbox = await backend.create(spec(workspace()));
    try {
      const result = await sandbox.exec(["sh", "-c", "sleep 5151 & echo started"]);
      assert.equal(result.output, "started\n");
      // Returned without waiting for the background job (which would take 5151 s).
      assert.ok(result.durationMs < 60_000, `took ${result.durationMs} ms`);
      assert.doesNotMatch(await processes(sandbox), /sleep 5151/);
    } finally {
      await sandbox.destroy();
    }
  });

  it("splits a flood of tiny stdout/stderr frames into both streams intact, characters whole", async (t) => {
    if (!available(t)) return;
    const sandbox = await backend.create(spec(workspace()));
    try {
      // Unbuffered one-byte writes alternating between the two pipes: the daemon sends them as many small
      // frames (up to ~280 in one socket read, measured), headers cut between reads. "€" is written in two
      // halves, so its bytes sit in two frames of the same stream.
      const script = [
        "import os",
        "for i in range(40000):",
        "    os.write(1, b'o')",
        "    os.write(2, b'e')",
        "os.write(1, b'\\xe2\\x82')",
        "os.write(1, b'\\xac\\n')",
        "os.write(2, b'end\\n')",
      ].join("\n");
      const chunks: { stream: string; text: string }[] = [];
      const result = await sandbox.exec(["python3", "-c", script], {
        onOutput: (chunk) => {
          // Hold this process up once, so the daemon's frames pile up in the socket and later reads come
          // full (64 KiB, frame headers cut between reads).
          if (chunks.length === 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300);
          chunks.push(chunk);
        },
      });
      assert.equal(result.exitCode, 0, result.output.slice(-500));
      const of = (stream: string) =>
        chunks
          .filter((c) => c.stream === stream)
          .map((c) => c.text)
          .join("");
      assert.equal(of("stdout"), `${"o".repeat(40000)}€\n`);
      assert.equal(of("stderr"), `${"e".repeat(40000)}end\n`);
      assert.equal(result.output.length, 80006);
      assert.doesNotMatch(result.output, /\uFFFD/);
    } finally {
      await sandbox.destroy();
    }
  });

  it("leaves the files commands created owned by, readable and writable for the host user", async (t) => {
    if (!available(t)) return;
    const dir = workspace();
    mkdirSync(path.join(dir, "src"), { mode: 0o700 });
    writeFileSync(path.join(dir, "src", "a.txt"), "a\n", { mode: 0o600 });
    const owner = statSync(dir);
    const sandbox = await backend.create(spec(dir));
    try {
      const result = await sandbox.exec([
        "sh",
        "-c",
        "id -u; echo b >> src/a.txt && mkdir -p new/deep && echo c > new/deep/c.txt && chmod 600 new/deep/c.txt",
      ]);
      assert.equal(result.exitCode, 0, result.output);
      assert.notEqual(result.output.split("\n")[0], "0", "commands do not run as root");
    } finally {
      await sandbox.destroy();
    }
    for (const file of ["src", "src/a.txt", "new", "new/deep", "new/deep/c.txt"]) {
      const stat = statSync(path.join(dir, file));
      assert.equal(stat.uid, owner.uid, file);
      assert.equal(stat.gid, owner.gid, file);
    }
    assert.equal(readFileSync(path.join(dir, "src", "a.txt"), "utf8"), "a\nb\n");
    assert.equal(readFileSync(path.join(dir, "new", "deep", "c.txt"), "utf8"), "c\n");
    writeFileSync(path.join(dir, "new", "deep", "c.txt"), "host writes\n");
  });

  it("removes its container on destroy (idempotent)", async (t) => {
    if (!available(t)) return;
    const sandbox = await backend.create(spec(workspace()));
    const session = async () =>
      docker
        .listContainers({ all: true, filters: { label: [LABEL_SESSION] } })
        .then((list) =>
          list.filter((c) => c.Id === (sandbox as unknown as { containerId: string }).containerId),
        );
    assert.equal((await session()).length, 1);
    const info = await docker
      .getContainer((sandbox as unknown as { containerId: string }).containerId)
      .inspect();
    assert.equal(info.HostConfig.NetworkMode, "none");
    assert.equal(info.HostConfig.ReadonlyRootfs, true);
    assert.deepEqual(info.HostConfig.CapDrop, ["ALL"]);
    assert.equal(info.HostConfig.Init, false, "the keeper is pid 1, no tini in front of it");
    assert.deepEqual(info.HostConfig.CapAdd ?? [], []);
    assert.equal(info.HostConfig.Memory, DEFAULT_LIMITS.memoryBytes);
    assert.equal(info.HostConfig.MemorySwap, DEFAULT_LIMITS.memoryBytes);
    assert.equal(info.HostConfig.PidsLimit, DEFAULT_LIMITS.pids);
    assert.ok(info.HostConfig.SecurityOpt?.includes("no-new-privileges"));
    assert.deepEqual(
      Object.keys(info.NetworkSettings.Networks ?? {}).filter((name) => name !== "none"),
      [],
      "attached to no network",
    );
    await Promise.all([sandbox.destroy(), sandbox.destroy()]);
    await sandbox.destroy();
    assert.deepEqual(await session(), []);
  });

  it("removes containers left by an Entourage process that no longer exists", async (t) => {
    if (!available(t)) return;
    const stale = await docker.createContainer({
      Image: DEFAULT_SANDBOX_IMAGE,
      Cmd: ["sleep", "infinity"],
      Labels: {
        [LABEL_SANDBOX]: "container",
        [LABEL_OWNER_HOST]: hostname(),
        [LABEL_OWNER_PID]: "2147483646",
      },
      HostConfig: { NetworkMode: "none" },
    });
    const sandbox = await createDockerBackend().create(spec(workspace()));
    await sandbox.destroy();
    await assert.rejects(stale.inspect(), (e: { statusCode?: number }) => e.statusCode === 404);
  });

  it("runs `node --test` and npm on the host's Node version; HOME and /tmp persist for the session", async (t) => {
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
      assert.equal((await sandbox.exec(["node", "-p", "process.version"])).output, `${process.version}\n`);
      assert.match((await sandbox.exec(["npm", "--version"])).output, /^\d+\.\d+\.\d+\n$/);
      await sandbox.exec(["sh", "-c", 'echo kept > "$HOME/x"; echo kept > /tmp/y']);
      assert.equal((await sandbox.exec(["sh", "-c", 'cat "$HOME/x" /tmp/y'])).output, "kept\nkept\n");
    } finally {
      await sandbox.destroy();
    }
  });

  it("dependency mounts: readable by the sandbox uid through the folder's group; an unreadable one is refused with the fix; mountpoints removed", async (t) => {
    if (!available(t)) return;
    if (process.getuid?.() !== 0) {
      t.skip(
        "only when Entourage runs as root: commands then run as the sandbox uid, not as the folder's owner",
      );
      return;
    }
    const host = workspace();
    const shared = path.join(host, "group-only");
    mkdirSync(path.join(shared, "pkg"), { recursive: true });
    writeFileSync(path.join(shared, "pkg", "index.js"), "module.exports = 42;\n", { mode: 0o640 });
    for (const file of [shared, path.join(shared, "pkg"), path.join(shared, "pkg", "index.js")]) {
      chownSync(file, 0, 4242);
    }
    chmodSync(shared, 0o750);
    chmodSync(path.join(shared, "pkg"), 0o750);
    const dir = workspace();
    const sandbox = await backend.create(
      spec(dir, { dependencies: [{ source: shared, path: "vendor/deps" }] }),
    );
    try {
      const result = await sandbox.exec(["sh", "-c", "id -u; cat vendor/deps/pkg/index.js"]);
      assert.equal(result.exitCode, 0, result.output);
      assert.equal(result.output, `${IMAGE_SANDBOX_USER.uid}\nmodule.exports = 42;\n`);
    } finally {
      await sandbox.destroy();
    }
    assert.ok(!existsSync(path.join(dir, "vendor")), "the mountpoints it created are gone");
    const closed = path.join(host, "owner-only");
    mkdirSync(closed, { mode: 0o700 });
    await assert.rejects(
      backend.create(spec(dir, { dependencies: [{ source: closed, path: "node_modules" }] })),
      (e) => UserError.isInstance(e) && /not readable by the sandbox user.*chmod -R a\+rX/.test(e.message),
    );
    assert.ok(!existsSync(path.join(dir, "node_modules")), "nothing left behind by a refused spec");
  });

  it("refuses the network, and an OCI runtime the daemon does not have, with clear errors", async (t) => {
    if (!available(t)) return;
    const dir = workspace();
    await assert.rejects(backend.create(spec(dir, { network: "on" })), (e) => UserError.isInstance(e));
    await assert.rejects(
      backend.create(spec(dir, { runtime: "no-such-runtime" })),
      (e) => UserError.isInstance(e) && /no-such-runtime.*not registered.*runc/s.test(e.message),
    );
  });
  it("ENTOURAGE_DOCKER_WORKSPACE=copy: on a local socket the workspace travels (no bind mount) and the command's files come back", async (t) => {
    if (!available(t)) return;
    const copying = createDockerBackend({ workspace: "copy", pruneStale: false });
    assert.match((await copying.probe()).details?.engine ?? "", /local socket; the workspace is copied/);
    const dir = workspace();
    writeFileSync(path.join(dir, "in.txt"), "from the host\n");
    const sandbox = await copying.create(spec(dir));
    try {
      const info = await docker
        .getContainer((sandbox as unknown as { containerId: string }).containerId)
        .inspect();
      assert.deepEqual(
        info.Mounts.filter((m) => m.Type === "bind"),
        [],
        "nothing of this machine's is mounted",
      );
      const result = await sandbox.exec(["sh", "-c", "cat in.txt && echo made inside > out.txt"]);
      assert.equal(result.exitCode, 0, result.output);
      assert.equal(result.output, "from the host\n");
      assert.equal(readFileSync(path.join(dir, "out.txt"), "utf8"), "made inside\n");
    } finally {
      await sandbox.destroy();
    }
    const saved = process.env.ENTOURAGE_DOCKER_WORKSPACE;
    process.env.ENTOURAGE_DOCKER_WORKSPACE = "share";
    try {
      await assert.rejects(
        createDockerBackend().create(spec(dir)),
        (e) =>
          UserError.isInstance(e) &&
          /ENTOURAGE_DOCKER_WORKSPACE is "share": use mount .* or copy/.test(e.message),
      );
    } finally {
      if (saved === undefined) delete process.env.ENTOURAGE_DOCKER_WORKSPACE;
      else process.env.ENTOURAGE_DOCKER_WORKSPACE = saved;
    }
  });
});
