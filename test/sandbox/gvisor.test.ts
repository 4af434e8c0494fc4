import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import {
  connectDocker,
  DEFAULT_SANDBOX_IMAGE,
  pingDocker,
} from "../../src/sandbox/backends/docker/client.ts";
import { buildSandboxImage, inspectImage } from "../../src/sandbox/backends/docker/image.ts";
import { createGvisorBackend } from "../../src/sandbox/backends/index.ts";
import { runSandboxConformance } from "../support/sandbox/sandbox.conformance.ts";
import { LIMITS, spec } from "../support/sandbox/sandbox.conformance-support.ts";

/**
 * The gvisor backend (the docker backend on the runsc runtime) runs the one conformance and containment suite,
 * like docker and bwrap. Needs dockerd with runsc registered (`.ci/run` installs and registers it); without it
 * the suites skip with the probe's reason, or fail under ENTOURAGE_CI=1.
 */
before(
  async () => {
    const docker = await connectDocker();
    if (!(await pingDocker(docker)).ok) return;
    if (await inspectImage(docker, DEFAULT_SANDBOX_IMAGE)) return;
    await buildSandboxImage({ onProgress: (line) => console.error(`[build-image] ${line}`) });
  },
  { timeout: 600_000 },
);

runSandboxConformance("gvisor", () => createGvisorBackend(), {
  isolated: true,
  dependencyMounts: "read-only",
});

describe("gvisor backend specifics", () => {
  const backend = createGvisorBackend();
  let workspace: string;
  before(() => {
    workspace = mkdtempSync(path.join(tmpdir(), "entourage-gvisor-"));
  });
  after(() => rmSync(workspace, { recursive: true, force: true }));

  it("commands run on gVisor's kernel, not the host's, and the sandbox says gvisor", async (t) => {
    const probe = await backend.probe();
    if (!probe.available) {
      if (process.env.ENTOURAGE_CI === "1") assert.fail(`gvisor is not available: ${probe.reason}`);
      t.skip(probe.reason);
      return;
    }
    assert.match(probe.details?.runtime ?? "", /^runsc: \S+runsc/);
    assert.match(probe.details?.exec ?? "", /ran in \d+ ms/);
    const sandbox = await backend.create(spec(workspace, LIMITS));
    try {
      assert.equal(sandbox.backend, "gvisor");
      assert.equal(sandbox.spec.runtime, "runsc");
      // gVisor's Sentry logs its own boot messages in the guest's kernel log; the host's kernel is a Linux 6.
      const result = await sandbox.exec(["sh", "-c", "uname -r; dmesg 2>&1 | head -3"]);
      assert.equal(result.exitCode, 0, result.output);
      assert.match(result.output, /gVisor/, result.output);
      // coreutils' ls and stat pass AT_NO_AUTOMOUNT, which gVisor 2022 refuses: the preloaded shim drops it.
      const ls = await sandbox.exec(["sh", "-c", "touch f && ls -l f && stat -c %s f && ls /"]);
      assert.equal(ls.exitCode, 0, ls.output);
      assert.match(ls.output, /^-rw.* f$/m);
    } finally {
      await sandbox.destroy();
    }
  });

  it("a runtime that is not registered is refused with the fix", async (t) => {
    const probe = await createGvisorBackend({ runtime: "runsc-not-registered" }).probe();
    if ((await pingDocker(await connectDocker())).ok === false) {
      if (process.env.ENTOURAGE_CI === "1") assert.fail("no Docker daemon");
      t.skip("no Docker daemon");
      return;
    }
    assert.equal(probe.available, false);
    assert.match(probe.reason ?? "", /runsc-not-registered" is not registered/);
    assert.match(probe.reason ?? "", /apt-get install runsc/);
    assert.match(probe.reason ?? "", /--network=none/);
  });
});
