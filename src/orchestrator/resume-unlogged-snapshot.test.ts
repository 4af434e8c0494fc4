import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { after, describe, it } from "node:test";
import { createWorkspaceFixture, type WorkspaceFixture } from "../../test/support/workspace.ts";
import { AbortedError, sequentialIds } from "../core/index.ts";
import { createScriptedModel, type Model } from "../llm/index.ts";
import { createBackend } from "../sandbox/backends/index.ts";
import { DEFAULT_LIMITS, type Sandbox } from "../sandbox/index.ts";
import { createMemoryEventStore } from "../store/backends/memory.ts";
import { builtinTools } from "../tools/builtin/index.ts";
import { createRun, driveRun, type RunContext } from "./run-engine.ts";

const RUN = "run_1";
const TEST = "grep -q new a.txt";

/**
 * A driver can stop (SIGKILL, a lost lease) after a snapshot's git commit and before its checkpoint.created is
 * written. The driver that resumes the run must not take the files for unchanged since the last logged
 * checkpoint: verification would reuse a test result from before the change (seen in the workers e2e test,
 * where a run whose fix was committed failed on the test run that preceded the fix).
 */
describe("a resumed run whose last snapshot was committed but never logged", () => {
  let fx: WorkspaceFixture;
  let sandbox: Sandbox;
  after(async () => {
    await sandbox?.destroy();
    await fx?.cleanup();
  });

  it("logs that snapshot, so verification runs the tests again on the changed files", async () => {
    fx = await createWorkspaceFixture({ files: { "a.txt": "old\n" } });
    sandbox = await createBackend("subprocess").create({
      workspace: fx.workspace.dir,
      network: "off",
      limits: { ...DEFAULT_LIMITS, timeoutMs: 20_000 },
    });
    const store = createMemoryEventStore({ ids: sequentialIds() });
    await createRun(store, RUN, {
      task: "Make a.txt say new",
      repo: fx.repo,
      workspace: fx.workspace.dir,
      mode: "single",
      model: { provider: "scripted", model: "script", scripted: true },
      sandbox: { backend: "subprocess", isolated: false, network: "off" },
      budget: { maxSteps: 10 },
      approval: "auto",
      testCommand: { command: TEST, source: "configured" },
    });
    const stop = new AbortController();
    const ctx = (model: Model, signal: AbortSignal): RunContext => ({
      store,
      model,
      sandbox,
      workspace: fx.workspace,
      tools: builtinTools,
      approval: { mode: "auto", approver: async () => ({ decision: "approve", by: "test" }) },
      ids: sequentialIds(),
      clock: Date.now,
      signal,
    });

    // The first driver runs the tests (they fail) and stops at its next model request.
    const first = createScriptedModel({
      turns: [
        {
          text: "Testing first.",
          toolCalls: [{ id: "c1", name: "run_command", arguments: { command: TEST } }],
        },
        () => {
          stop.abort();
          return { text: "…" };
        },
      ],
    });
    await assert.rejects(driveRun(ctx(first, stop.signal), RUN), (error) => AbortedError.isInstance(error));
    // What it did last: the fix, snapshotted in git, the process gone before checkpoint.created.
    await writeFile(path.join(fx.workspace.dir, "a.txt"), "new\n");
    const lost = await fx.workspace.snapshot("after write_file a.txt");
    assert.ok(lost, "the fix is committed in the shadow git");

    const second = createScriptedModel({ turns: [{ text: "a.txt now says new." }] });
    const state = await driveRun(ctx(second, new AbortController().signal), RUN);

    const events = await store.read(RUN);
    const recovered = events.find((e) => e.type === "checkpoint.created" && e.data.ref === lost.ref);
    assert.ok(recovered, "the unlogged snapshot is logged on resume");
    assert.deepEqual(recovered.type === "checkpoint.created" && recovered.data.filesChanged, ["a.txt"]);
    const verified = events.findLast((e) => e.type === "verification.ended");
    assert.equal(verified?.type === "verification.ended" && verified.data.reusedSeq, undefined);
    assert.equal(state.status, "succeeded", JSON.stringify(verified?.data));
  });
});
