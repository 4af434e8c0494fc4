import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  connectDocker,
  DEFAULT_SANDBOX_IMAGE,
  pingDocker,
} from "../../src/sandbox/backends/docker/client.ts";
import { inspectImage } from "../../src/sandbox/backends/docker/image.ts";
import { loadScenario } from "../fake-llm/scenario.ts";
import { startFakeModelServer } from "../fake-llm/server.ts";
import {
  cliEnv,
  fakeModel,
  jsonLines,
  makeSampleRepo,
  ROOT,
  removeDir,
  runCli,
  tempDir,
  treeHash,
} from "../helpers/cli.ts";
import { type RemoteDockerd, startRemoteDockerd } from "../support/sandbox/remote-dockerd.ts";
import { missingDependency } from "../support/sandbox/sandbox.conformance-support.ts";

/**
 * `entourage run --sandbox docker` with DOCKER_HOST at a remote engine (a second real dockerd over mutual
 * TLS, see remote-dockerd.ts): the fake model fixes the bug with shell commands only, so the change reaches
 * the run's workspace only through the archive sync; `entourage diff` shows it, the deletion included, and
 * `entourage doctor` names the remote engine. The user's checkout is untouched.
 */
describe("entourage run --sandbox docker on a remote Docker engine", () => {
  let home: string;
  let repo: string;
  let remote: RemoteDockerd | undefined;
  let unavailable: string | undefined;

  before(
    async () => {
      home = tempDir("home");
      repo = makeSampleRepo();
      const local = await connectDocker();
      const ping = await pingDocker(local);
      if (!ping.ok) unavailable = ping.reason;
      else if (!(await inspectImage(local, DEFAULT_SANDBOX_IMAGE)))
        unavailable = `${DEFAULT_SANDBOX_IMAGE} is not built (entourage sandbox build-image)`;
      else {
        try {
          remote = await startRemoteDockerd([DEFAULT_SANDBOX_IMAGE]);
        } catch (error) {
          if (process.env.ENTOURAGE_CI === "1") throw error;
          unavailable = `the second Docker engine could not be started: ${error}`;
        }
      }
    },
    { timeout: 180_000 },
  );
  after(async () => {
    await remote?.stop();
    removeDir(home);
    removeDir(repo);
  });

  it("runs the commands there, and their edits and deletions show in entourage diff", async (t) => {
    if (unavailable || !remote) return missingDependency(t, `docker unavailable: ${unavailable}`);
    const env = { ...cliEnv(home), ...remote.env, ENTOURAGE_SANDBOX: "docker" };
    const doctor = await runCli(["doctor"], { env });
    assert.match(
      doctor.stdout,
      /engine: tcp:\/\/127\.0\.0\.1:\d+ over TLS with a client certificate \(remote:/,
    );

    const before = treeHash(repo);
    const server = await startFakeModelServer({
      scenario: await loadScenario(join(ROOT, "test", "e2e", "scenarios", "remote-docker-edit.json")),
    });
    try {
      const run = await runCli(
        ["run", "Fix the failing tests", "--repo", repo, ...fakeModel(server), "--mode", "single"],
        { env },
      );
      assert.equal(run.code, 0, `stderr: ${run.stderr}\nstdout: ${run.stdout.slice(-2000)}`);
      const runId = /run (run_[A-Za-z0-9_-]+)/.exec(run.stdout)?.[1];
      assert.ok(runId, run.stdout.slice(0, 500));
      const json = await runCli(["show", "--json", runId], { env: cliEnv(home) });
      const commands = jsonLines(json.stdout).filter(
        (e) => e.type === "tool.call.ended" && (e.data as { name: string }).name === "run_command",
      );
      assert.deepEqual(
        commands.map((e) => (e.data as { exitCode: number }).exitCode),
        [1, 0, 0],
        "the tests failed, the sed ran, then the tests passed on the remote engine",
      );
      const diff = await runCli(["diff", runId], { env: cliEnv(home) });
      assert.equal(diff.code, 0, diff.stderr);
      assert.match(diff.stdout, /\+.*String\(date\.getUTCMonth\(\) \+ 1\)\.padStart\(2, "0"\)/);
      assert.match(diff.stdout, /deleted file mode|\+\+\+ \/dev\/null/, "the deletion of README.md");
      assert.match(diff.stdout, /README\.md/);
      assert.match(diff.stdout, /\+edited on the remote engine/);
      assert.equal(treeHash(repo), before, "the user's checkout is untouched");
    } finally {
      await server.close();
    }
  });
});
