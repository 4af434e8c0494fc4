import assert from "node:assert/strict";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it, type TestContext } from "node:test";
import { createBackend } from "../../src/sandbox/backends/index.ts";
import { startFakeModelServer } from "../fake-llm/server.ts";
import { cliEnv, makeSampleRepo, removeDir, runCli, tempDir } from "../helpers/cli.ts";
import { missingDependency } from "../support/sandbox/sandbox.conformance-support.ts";
import { type DbEvent, dbEvents, describeResult, fakeModelArgs } from "./support.ts";

/**
 * A command cannot fill the disk: with a 20 MB quota (ENTOURAGE_WORKSPACE_QUOTA_MB), a scripted model
 * runs `dd` of 100 MB into one file (stopped by RLIMIT_FSIZE at the quota), then an endless loop writing
 * 1 MB files (stopped by the quota's supervisor), then cleans up (never stopped: it frees space). The
 * model is told each time in the command's result, the log has `quota.exceeded`, and the live view shows it.
 */

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

const MB = 1024 * 1024;
const DD = "dd if=/dev/zero of=big bs=1M count=100";
// Never ends by itself: only the quota's supervisor stops it (the timeout is a safety net, and would say so).
const MANY = "i=0; while :; do i=$((i+1)); head -c 1048576 /dev/zero > part$i; done";
const CLEAN = "rm -f big part*";

function scenario() {
  const call = (name: string, command: string) => ({
    name,
    toolCalls: [{ name: "run_command", arguments: { command, timeout_seconds: 60 } }],
  });
  return [
    call("dd", DD),
    { ...call("many", MANY), expectMessageContains: ["disk quota of 20 MB"] },
    { ...call("clean", CLEAN), expectMessageContains: ["disk quota of 20 MB"] },
    {
      name: "finish",
      toolCalls: [
        { name: "finish", arguments: { status: "done", summary: "Cleaned up.", files_changed: [] } },
      ],
    },
  ];
}

/** The backend works on this machine; otherwise the test is skipped (failed under ENTOURAGE_CI=1). */
async function worksHere(t: TestContext, name: "bwrap" | "docker" | "gvisor"): Promise<boolean> {
  const probe = await createBackend(name).probe();
  if (probe.available) return true;
  missingDependency(t, `${name} unavailable: ${probe.reason}`);
  return false;
}

const ended = (events: DbEvent[]) => events.filter((e) => e.type === "tool.call.ended");

for (const sandbox of ["subprocess", "bwrap", "docker", "gvisor"] as const) {
  describe(`the disk quota (${sandbox})`, () => {
    it("stops `dd` and a many-files loop at the quota, tells the model and the views, and lets cleaning up run", async (t) => {
      if (sandbox !== "subprocess" && !(await worksHere(t, sandbox))) return;
      const home = tempDir("quota-home");
      const repo = makeSampleRepo();
      const server = await startFakeModelServer({ scenario: scenario() });
      cleanups.push(
        () => server.close(),
        () => removeDir(home),
        () => removeDir(repo),
      );
      const args = fakeModelArgs(server.baseUrl).map((a) => (a === "subprocess" ? sandbox : a));
      const run = await runCli(["run", "Fill the disk", "--repo", repo, ...args, "--no-verify"], {
        env: cliEnv(home, { ENTOURAGE_WORKSPACE_QUOTA_MB: "20" }),
        timeoutMs: 120_000,
      });
      assert.equal(run.code, 0, describeResult(run));
      const runId = /run_[0-9a-z]+/.exec(run.stdout + run.stderr)?.[0] ?? "";
      const events = dbEvents(home, runId);
      const results = ended(events);
      assert.equal(results.length, 4, JSON.stringify(results.map((r) => r.data.output)));
      const [dd, many, clean] = results.map((r) => String(r.data.output));
      assert.match(dd!, /was stopped .*disk quota of 20 MB/);
      assert.match(many!, /was stopped .*disk quota of 20 MB/);
      assert.match(clean!, /^\$ rm -f big part\*\nexit code 0/);

      const quota = events.filter((e) => e.type === "quota.exceeded");
      assert.deepEqual(
        quota.map((e) => [e.data.command, e.data.stopped, e.data.limitBytes]),
        [
          [DD, true, 20 * MB],
          [MANY, true, 20 * MB],
        ],
      );
      // The endless loop was ended by the quota, not by its timeout.
      const manyEnded = results[1]?.data.metadata as { timedOut: boolean; killed: boolean };
      assert.deepEqual([manyEnded.timedOut, manyEnded.killed], [false, true]);
      assert.ok(Number(quota[1]?.data.usedBytes) > 20 * MB);
      const checkpoint = events.find(
        (e) =>
          e.type === "checkpoint.created" &&
          (e.data.filesChanged as string[]).some((f) => f.startsWith("part")),
      );
      assert.ok(checkpoint, "what the loop wrote was checkpointed, so the run can rewind past it");
      // dd's one file never grew past the quota (RLIMIT_FSIZE).
      const ddEnded = results[0]?.data.metadata as { diskQuota: { usedBytes: number } };
      assert.ok(ddEnded.diskQuota.usedBytes <= 21 * MB, `dd left ${ddEnded.diskQuota.usedBytes} bytes`);
      // The live view said it.
      assert.match(run.stdout, /! disk quota: the workspace reached 20 MB .*the command was stopped/);
      const workspace = join(home, "runs", runId, "workspace");
      assert.ok(!existsSync(join(workspace, "big")), "cleaned up");
      assert.ok(readdirSync(workspace).every((n) => !n.startsWith("part")));
      assert.ok(statSync(workspace).isDirectory());
    });
  });
}
