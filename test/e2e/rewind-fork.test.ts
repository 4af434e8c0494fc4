import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { after, before, describe, it } from "node:test";
import { cliEnv, jsonLines, removeDir, runCli, tempDir, treeHash } from "../helpers/cli.ts";

type Event = { runId: string; seq: number; type: string; agentId?: string; data: Record<string, unknown> };

function shadowFiles(gitDir: string, ref: string): Map<string, Buffer> {
  const git = (...args: string[]) =>
    execFileSync("git", [`--git-dir=${gitDir}`, ...args], { maxBuffer: 64 << 20 });
  const files = new Map<string, Buffer>();
  for (const path of git("ls-tree", "-r", "-z", "--name-only", ref).toString().split("\0").filter(Boolean)) {
    files.set(path, git("show", `${ref}:${path}`));
  }
  return files;
}

function workspaceFiles(dir: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, entry.name);
      if (entry.isDirectory()) walk(p);
      else files.set(relative(dir, p), readFileSync(p));
    }
  };
  walk(dir);
  return files;
}

/** Rewind and fork over the built CLI, on a demo run (scripted model, real sandbox and real tests). */
describe("rewind and fork", () => {
  let home: string;
  let runId: string;
  let events: Event[];
  let workspace: string;
  let checkpoint: Event;

  before(async () => {
    home = tempDir("home");
    const demo = await runCli(["demo", "--json"], { env: cliEnv(home) });
    assert.equal(demo.code, 0, demo.stderr);
    events = jsonLines(demo.stdout) as unknown as Event[];
    runId = events[0]!.runId;
    workspace = String(events[0]!.data.workspace);
    // The Implementer's first, incomplete edit: the tests still fail at this checkpoint.
    checkpoint = events.find((e) => e.type === "checkpoint.created")!;
  });

  after(() => removeDir(home));

  it("fork starts a new run from the checkpoint with the guidance, and leaves the old run intact", async () => {
    const oldFiles = treeHash(workspace);
    const fork = await runCli(
      ["fork", runId, "--at", String(checkpoint.seq), "Pad month and day with padStart", "--json"],
      {
        env: cliEnv(home),
      },
    );
    assert.equal(fork.code, 0, fork.stderr);
    const forked = jsonLines(fork.stdout) as unknown as Event[];
    const newRunId = forked[0]!.runId;
    assert.notEqual(newRunId, runId);
    // After run.finished: the guidance is a correction, quoted as a lesson (the scripted model drafts none).
    const finished = forked.findIndex((e) => e.type === "run.finished");
    assert.equal(forked[finished]?.data.status, "succeeded");
    assert.deepEqual(
      forked.slice(finished + 1).map((e) => [e.type, e.data.text, e.data.drafted]),
      [["lesson.proposed", "Pad month and day with padStart", "quoted"]],
    );
    const delivered = forked.find((e) => e.type === "intervention.delivered");
    assert.ok(delivered, "the guidance was not delivered to an agent");

    const newLog = jsonLines(
      (await runCli(["show", newRunId, "--json"], { env: cliEnv(home) })).stdout,
    ) as unknown as Event[];
    assert.deepEqual(newLog[0]!.data.forkedFrom, { runId, seq: checkpoint.seq });
    assert.ok(
      newLog.some(
        (e) => e.type === "intervention.received" && e.data.message === "Pad month and day with padStart",
      ),
    );
    // The fork's first change sits directly on the old run's checkpoint.
    const newWorkspace = String(newLog[0]!.data.workspace);
    const firstNew = forked.find((e) => e.type === "checkpoint.created")!;
    const parent = execFileSync("git", [
      `--git-dir=${join(newWorkspace, "..", "shadow.git")}`,
      "rev-parse",
      `${firstNew.data.ref}^`,
    ])
      .toString()
      .trim();
    assert.equal(parent, checkpoint.data.ref);

    // The old run: same files, same log, plus one run.forked event.
    assert.equal(treeHash(workspace), oldFiles);
    const oldLog = jsonLines(
      (await runCli(["show", runId, "--json"], { env: cliEnv(home) })).stdout,
    ) as unknown as Event[];
    assert.deepEqual(oldLog.slice(0, events.length), events);
    assert.deepEqual(
      oldLog.slice(events.length).map((e) => [e.type, e.data.newRunId]),
      [["run.forked", newRunId]],
    );
  });

  it("rewind puts the workspace back to the checkpoint byte for byte, and resume continues from there", async () => {
    const rewind = await runCli(["rewind", runId, "--to", String(checkpoint.seq)], { env: cliEnv(home) });
    assert.equal(rewind.code, 0, rewind.stderr);
    const expected = shadowFiles(join(workspace, "..", "shadow.git"), String(checkpoint.data.ref));
    assert.deepEqual(workspaceFiles(workspace), expected);

    const state = jsonLines((await runCli(["show", runId, "--json"], { env: cliEnv(home) })).stdout).at(
      -1,
    ) as unknown as Event;
    assert.equal(state.type, "run.status");
    assert.equal(state.data.status, "paused");

    const resumed = await runCli(["resume", runId, "--json"], { env: cliEnv(home) });
    assert.equal(resumed.code, 0, resumed.stderr);
    const after = jsonLines(resumed.stdout) as unknown as Event[];
    assert.equal(after.at(-1)?.data.status, "succeeded");
    // It went on from the first Implementer's step after the checkpoint, not from the start.
    assert.ok(!after.some((e) => e.type === "agent.started" && e.data.phase === "analyze"));
    assert.match(readFileSync(join(workspace, "src", "date.js"), "utf8"), /padStart\(2, "0"\)/);
  });

  it("refuses a rewind or fork to an event that does not exist", async () => {
    const bad = await runCli(["rewind", runId, "--to", "99999"], { env: cliEnv(home) });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /outside that range/);
    const badFork = await runCli(["fork", runId, "--at", "-3"], { env: cliEnv(home) });
    assert.equal(badFork.code, 2);
  });
});
