import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { connectDocker, pingDocker } from "../../src/sandbox/backends/docker/client.ts";
import { inspectImage } from "../../src/sandbox/backends/docker/image.ts";
import { IMAGE_RECIPES } from "../../src/sandbox/backends/docker/image-recipes.ts";
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
} from "../helpers/cli.ts";
import { missingDependency } from "../support/sandbox/sandbox.conformance-support.ts";

/**
 * `entourage run --sandbox docker` on a JS repository, the built CLI against the real daemon: the run uses
 * the node image when it is built (else the default image, saying why), records it in run.created, and the
 * repository's real test command runs in it. `--image` with another backend is refused.
 */
describe("entourage run --sandbox docker: the image", () => {
  let home: string;
  let repo: string;
  let unavailable: string | undefined;
  let nodeImageBuilt = false;

  before(async () => {
    home = tempDir("home");
    repo = makeSampleRepo();
    const docker = await connectDocker();
    const ping = await pingDocker(docker);
    if (!ping.ok) unavailable = ping.reason;
    else if (!(await inspectImage(docker, IMAGE_RECIPES.base.image)))
      unavailable = `${IMAGE_RECIPES.base.image} is not built (entourage sandbox build-image)`;
    else nodeImageBuilt = (await inspectImage(docker, IMAGE_RECIPES.node.image)) !== undefined;
  });
  after(() => {
    removeDir(home);
    removeDir(repo);
  });

  it("picks the repository's language image, records it in run.created and runs the tests in it", async (t) => {
    if (unavailable) return missingDependency(t, `docker unavailable: ${unavailable}`);
    if (!nodeImageBuilt)
      return missingDependency(t, "the node image is not built: entourage sandbox build-image node");
    const server = await startFakeModelServer({
      scenario: await loadScenario(join(ROOT, "demo", "fix-date.scenario.json")),
    });
    try {
      const run = await runCli(
        ["run", "Fix the failing tests", "--repo", repo, ...fakeModel(server), "--mode", "single"],
        { env: { ...cliEnv(home), ENTOURAGE_SANDBOX: "docker" } },
      );
      assert.equal(run.code, 0, `stderr: ${run.stderr}\nstdout: ${run.stdout.slice(-2000)}`);
      assert.match(
        run.stdout,
        /^image entourage\/sandbox:bookworm-node \(the repository has package\.json\)$/m,
      );
      const json = await runCli(["show", "--json", jsonRunId(run.stdout)], { env: cliEnv(home) });
      const created = jsonLines(json.stdout).find((e) => e.type === "run.created") as {
        data: { sandbox: { backend: string; image?: string; imageReason?: string } };
      };
      assert.equal(created.data.sandbox.backend, "docker");
      assert.equal(created.data.sandbox.image, IMAGE_RECIPES.node.image);
      const tests = jsonLines(json.stdout).filter(
        (e) => e.type === "tool.call.ended" && (e.data as { name: string }).name === "run_command",
      );
      assert.deepEqual(
        tests.map((e) => (e.data as { exitCode: number }).exitCode),
        [1, 0],
        "the repository's tests failed, then passed, inside the node image",
      );
    } finally {
      await server.close();
    }
  });

  // The sandbox is made while the run starts (its first model request does not wait): one that cannot be
  // made still stops the run with the reason, and leaves it resumable once the image is there.
  it("stops the run with an image that is not in the engine, naming it, and leaves the run resumable", async (t) => {
    if (unavailable) return missingDependency(t, `docker unavailable: ${unavailable}`);
    const server = await startFakeModelServer({
      scenario: {
        turns: [
          { text: "Reading.", toolCalls: [{ name: "read_file", arguments: { path: "package.json" } }] },
        ],
      },
    });
    try {
      const run = await runCli(
        [
          "run",
          "What does package.json say?",
          "--repo",
          repo,
          ...fakeModel(server),
          "--sandbox",
          "docker",
          "--image",
          "entourage-test/no-such-image:1",
        ],
        { env: cliEnv(home) },
      );
      assert.equal(run.code, 2, `stderr: ${run.stderr}\nstdout: ${run.stdout.slice(-2000)}`);
      assert.match(run.stderr, /The docker sandbox image entourage-test\/no-such-image:1 is not present/);
      const json = await runCli(["show", "--json", jsonRunId(run.stdout)], { env: cliEnv(home) });
      const events = jsonLines(json.stdout);
      assert.equal(
        events.some((e) => e.type === "run.finished"),
        false,
        "not finished: resumable",
      );
      assert.match(JSON.stringify(events.at(-1)), /"status":"paused".*entourage resume/);
    } finally {
      await server.close();
    }
  });

  it("refuses --image with a backend other than docker, saying what to do", async () => {
    const model = ["--provider", "openai-compatible", "--base-url", "http://127.0.0.1:9/v1", "--model", "m"];
    const run = await runCli(
      ["run", "x", "--repo", repo, ...model, "--sandbox", "subprocess", "--image", "python"],
      { env: cliEnv(home) },
    );
    assert.notEqual(run.code, 0);
    assert.match(
      run.stderr,
      /--image chooses the docker \(or gvisor\) sandbox's image.*subprocess sandbox.*--sandbox docker/,
    );
  });
});

/** The run id printed in the header line. */
function jsonRunId(stdout: string): string {
  const id = /run (run_[A-Za-z0-9_-]+)/.exec(stdout)?.[1];
  assert.ok(id, `no run id in: ${stdout.slice(0, 500)}`);
  return id;
}
