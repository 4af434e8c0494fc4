import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { after, before, describe, it } from "node:test";
import { startFakeModelServer } from "../fake-llm/server.ts";
import {
  BIN,
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

type Event = {
  runId: string;
  seq: number;
  id: string;
  type: string;
  agentId?: string;
  data: Record<string, unknown>;
};

const SCENARIO = join(ROOT, "test", "e2e", "scenarios", "kill-resume.json");

/** Starts `entourage run --json` and SIGKILLs it as soon as an event matching `killWhen` is printed. */
function runAndKill(
  args: string[],
  env: Record<string, string>,
  killWhen: (e: Event) => boolean,
): Promise<{ killedAt?: Event; code: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
    let buffer = "";
    let killedAt: Event | undefined;
    child.stdout.on("data", (chunk: Buffer) => {
      buffer += chunk.toString();
      const lines = buffer.split("\n");
      buffer = lines.pop() ?? "";
      for (const line of lines) {
        if (killedAt || line.trim() === "") continue;
        const event = JSON.parse(line) as Event;
        if (killWhen(event)) {
          killedAt = event;
          child.kill("SIGKILL");
        }
      }
    });
    child.on("error", reject);
    child.on("exit", (code) => resolve({ killedAt, code }));
  });
}

function readLog(home: string, runId: string): Event[] {
  const db = new DatabaseSync(join(home, "entourage.db"), { readOnly: true });
  try {
    const rows = db
      .prepare("SELECT seq, id, type, agent_id, data FROM events WHERE run_id = ? ORDER BY seq")
      .all(runId) as {
      seq: number;
      id: string;
      type: string;
      agent_id: string | null;
      data: string;
    }[];
    return rows.map((r) => ({
      runId,
      seq: r.seq,
      id: r.id,
      type: r.type,
      agentId: r.agent_id ?? undefined,
      data: JSON.parse(r.data),
    }));
  } finally {
    db.close();
  }
}

function runIdOf(home: string): string {
  const db = new DatabaseSync(join(home, "entourage.db"), { readOnly: true });
  try {
    const row = db.prepare("SELECT run_id FROM runs ORDER BY created_at DESC LIMIT 1").get() as {
      run_id: string;
    };
    return row.run_id;
  } finally {
    db.close();
  }
}

const killPoints: { name: string; when: (e: Event) => boolean }[] = [
  {
    name: "while the model streams (mid-turn)",
    when: (e) => e.type === "agent.text.delta" && e.data.step === 2,
  },
  {
    name: "while a command runs",
    when: (e) => e.type === "tool.call.started" && e.data.name === "run_command" && e.seq > 20,
  },
  { name: "right after a checkpoint", when: (e) => e.type === "checkpoint.created" },
  {
    name: "right after the first model answer",
    when: (e) => e.type === "agent.step.ended" && e.data.step === 1,
  },
];

describe("kill -9 at any point, then resume", () => {
  let server: Awaited<ReturnType<typeof startFakeModelServer>>;
  before(async () => {
    server = await startFakeModelServer({ scenario: SCENARIO });
  });
  after(async () => {
    await server.close();
  });

  for (const point of killPoints) {
    it(`completes the run after a kill ${point.name}, with no event lost or duplicated`, async () => {
      const home = tempDir("home");
      const repo = makeSampleRepo();
      const original = treeHash(repo);
      try {
        server.seek(0);
        const env = cliEnv(home);
        const killed = await runAndKill(
          [
            "run",
            "Fix the failing tests",
            "--repo",
            repo,
            ...fakeModel(server),
            "--mode",
            "single",
            "--json",
          ],
          env,
          point.when,
        );
        assert.ok(killed.killedAt, "the kill point was never reached");
        const runId = runIdOf(home);
        const beforeResume = readLog(home, runId);
        assert.ok(
          !beforeResume.some((e) => e.type === "run.finished"),
          "the run finished before it was killed",
        );

        // The fake model serves one turn per completed step: replay from the first step without an answer.
        const completedSteps = beforeResume.filter((e) => e.type === "agent.step.ended").length;
        server.seek(completedSteps);
        const resumed = await runCli(["resume", runId, "--json"], { env });
        assert.equal(resumed.code, 0, `resume failed: ${resumed.stderr}\n${resumed.stdout.slice(-1500)}`);

        const log = readLog(home, runId);
        // The old events are untouched, the new ones follow without a gap or a duplicate.
        assert.deepEqual(log.slice(0, beforeResume.length), beforeResume);
        assert.deepEqual(
          log.map((e) => e.seq),
          log.map((_, i) => i),
        );
        assert.equal(new Set(log.map((e) => e.id)).size, log.length);
        const printed = jsonLines(resumed.stdout) as unknown as Event[];
        assert.deepEqual(
          printed.map((e) => e.seq),
          log.slice(beforeResume.length).map((e) => e.seq),
        );
        assert.equal(log.at(-1)?.type, "run.finished");
        assert.equal(log.at(-1)?.data.status, "succeeded");
        assert.ok(log.some((e) => e.type === "run.attached" && e.data.resumed === true));

        // Completed steps were not repeated: each step ended once.
        const ended = log.filter((e) => e.type === "agent.step.ended").map((e) => e.data.step);
        assert.deepEqual(ended, [...new Set(ended)]);
        // Every tool call got exactly one result.
        const requested = log.filter((e) => e.type === "tool.call.requested").map((e) => e.data.callId);
        const results = log.filter((e) => e.type === "tool.call.ended").map((e) => e.data.callId);
        assert.deepEqual([...new Set(requested)].sort(), [...results].sort());
        assert.equal(new Set(results).size, results.length);

        // The fix is there, and the user's checkout is still untouched.
        const diff = await runCli(["diff", runId], { env });
        assert.match(diff.stdout, /padStart\(2, "0"\)/);
        assert.equal(treeHash(repo), original);
      } finally {
        removeDir(home);
        removeDir(repo);
      }
    });
  }

  it("reports a command cut off by the kill to the model instead of silently re-running it", async () => {
    const home = tempDir("home");
    const repo = makeSampleRepo();
    try {
      server.seek(0);
      const env = cliEnv(home);
      await runAndKill(
        ["run", "Fix the failing tests", "--repo", repo, ...fakeModel(server), "--mode", "single", "--json"],
        env,
        (e) => e.type === "tool.call.started" && e.seq > 20 && e.data.name === "run_command",
      );
      const runId = runIdOf(home);
      server.seek(readLog(home, runId).filter((e) => e.type === "agent.step.ended").length);
      const requestsBefore = server.requests.length;
      const resumed = await runCli(["resume", runId, "--json"], { env });
      assert.equal(resumed.code, 0, resumed.stderr);
      const log = readLog(home, runId);
      const interrupted = log.find((e) => e.type === "tool.call.ended" && e.data.skipped === "interrupted");
      assert.ok(interrupted, "no interrupted tool call was recorded");
      const next = JSON.stringify(server.requests[requestsBefore]?.body);
      assert.match(next, /was interrupted/);
      assert.match(readFileSync(join(repo, "src", "date.js"), "utf8"), /getUTCMonth\(\)\}/); // checkout untouched
    } finally {
      removeDir(home);
      removeDir(repo);
    }
  });
});
