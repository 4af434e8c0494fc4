import assert from "node:assert/strict";
import { after, describe, it, type TestContext } from "node:test";
import { createBackend } from "../../src/sandbox/backends/index.ts";
import { startFakeModelServer } from "../fake-llm/server.ts";
import { cliEnv, makeSampleRepo, removeDir, runCli, tempDir } from "../helpers/cli.ts";
import { missingDependency } from "../support/sandbox/sandbox.conformance-support.ts";
import { dbEvents, describeResult, fakeModelArgs } from "./support.ts";

/**
 * The process cap holds on every isolating backend and the model is told: with `--max-processes 32`, a scripted
 * model starts 80 background sleeps; the forks past the cap fail (bash retries, then gives up), the command
 * ends by itself, and the result the model reads says the sandbox's process limit was hit. The next command
 * runs normally. The subprocess backend holds the cap only where it can make a pids cgroup (root, or a
 * delegated cgroup); elsewhere doctor says it is not enforced, and its case here is skipped (failed in CI).
 */

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

const SPAWN = "for i in $(seq 1 80); do sleep 3 & done; wait; echo done";

function scenario() {
  const call = (name: string, command: string) => ({
    name,
    toolCalls: [{ name: "run_command", arguments: { command, timeout_seconds: 120 } }],
  });
  return [
    call("spawn", SPAWN),
    { ...call("after", "echo still-works"), expectMessageContains: ["at most 32 processes"] },
    {
      name: "finish",
      toolCalls: [{ name: "finish", arguments: { status: "done", summary: "Done.", files_changed: [] } }],
    },
  ];
}

async function worksHere(
  t: TestContext,
  name: "subprocess" | "bwrap" | "docker" | "gvisor",
): Promise<boolean> {
  const probe = await createBackend(name).probe();
  if (name === "subprocess" && !probe.details?.pids?.startsWith("enforced")) {
    missingDependency(t, `the subprocess backend cannot enforce a process cap here: ${probe.details?.pids}`);
    return false;
  }
  if (probe.available) return true;
  missingDependency(t, `${name} unavailable: ${probe.reason}`);
  return false;
}

for (const sandbox of ["subprocess", "bwrap", "docker", "gvisor"] as const) {
  describe(`the process cap (${sandbox})`, () => {
    it("a command that forks past --max-processes fails its forks, ends, and the model is told", async (t) => {
      if (!(await worksHere(t, sandbox))) return;
      const home = tempDir("pids-home");
      const repo = makeSampleRepo();
      const server = await startFakeModelServer({ scenario: scenario() });
      cleanups.push(
        () => server.close(),
        () => removeDir(home),
        () => removeDir(repo),
      );
      const args = fakeModelArgs(server.baseUrl).map((a) => (a === "subprocess" ? sandbox : a));
      const image = sandbox === "bwrap" || sandbox === "subprocess" ? [] : ["--image", "base"];
      const run = await runCli(
        [
          "run",
          "Start many processes",
          "--repo",
          repo,
          ...args,
          ...image,
          "--no-verify",
          "--max-processes",
          "32",
        ],
        { env: cliEnv(home), timeoutMs: 180_000 },
      );
      assert.equal(run.code, 0, describeResult(run));
      const runId = /run_[0-9a-z]+/.exec(run.stdout + run.stderr)?.[0] ?? "";
      const results = dbEvents(home, runId).filter((e) => e.type === "tool.call.ended");
      assert.equal(results.length, 3, JSON.stringify(results.map((r) => r.data.output)));
      const [spawned, next] = results.map((r) => String(r.data.output));
      assert.match(spawned!, /fork/i, "the shell's own words for the failed fork are kept");
      assert.match(spawned!, /a fork failed: the sandbox allows at most 32 processes/);
      const metadata = results[0]?.data.metadata as { timedOut: boolean; processLimit?: number };
      assert.equal(metadata.timedOut, false);
      assert.equal(metadata.processLimit, 32);
      assert.match(next!, /^\$ echo still-works\nexit code 0 .*\nstill-works/);
    });
  });
}
