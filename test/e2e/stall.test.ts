import assert from "node:assert/strict";
import { test } from "node:test";
import { startFakeModelServer } from "../fake-llm/server.ts";
import { cliEnv, fakeModel, jsonLines, makeSampleRepo, removeDir, runCli, tempDir } from "../helpers/cli.ts";

type Event = { type: string; data: Record<string, unknown> };

/** An agent repeating itself is warned (the warning reaches the model), then stopped with a clear reason. */
test("a loop is detected, the agent warned, then stopped with a clear reason", async () => {
  const home = tempDir("home");
  const repo = makeSampleRepo();
  const read = { toolCalls: [{ name: "read_file", arguments: { path: "src/date.js" } }] };
  const server = await startFakeModelServer({ scenario: [read, read, read, read] });
  try {
    const run = await runCli(
      ["run", "Fix it", "--repo", repo, "--mode", "single", ...fakeModel(server), "--json"],
      { env: cliEnv(home) },
    );
    assert.equal(run.code, 1, run.stderr);
    const events = jsonLines(run.stdout) as unknown as Event[];
    const loops = events.filter((e) => e.type === "loop.detected");
    assert.deepEqual(
      loops.map((e) => [e.data.kind, e.data.action]),
      [
        ["repeated_call", "warned"],
        ["repeated_call", "stopped"],
      ],
    );
    // The warning was part of what the model was sent next.
    assert.match(JSON.stringify(server.requests[3]?.body), /You have made the same call/);
    const finished = events.find((e) => e.type === "agent.finished");
    assert.equal(finished?.data.reason, "loop");
    const end = events.at(-1)!;
    assert.equal(end.type, "run.finished");
    assert.equal(end.data.status, "failed");
    assert.match(String(end.data.summary), /same call was made in 3 turns running.*after a warning/);
    assert.equal(server.requests.length, 4);
  } finally {
    await server.close();
    removeDir(home);
    removeDir(repo);
  }
});
