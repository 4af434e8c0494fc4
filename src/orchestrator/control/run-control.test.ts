import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { createWorkspaceFixture } from "../../../test/support/workspace.ts";
import { sequentialIds } from "../../core/index.ts";
import { createScriptedModel, type ModelMessage } from "../../llm/index.ts";
import { createBackend } from "../../sandbox/backends/index.ts";
import { DEFAULT_LIMITS } from "../../sandbox/index.ts";
import { createMemoryEventStore } from "../../store/backends/memory.ts";
import { builtinTools } from "../../tools/builtin/index.ts";
import type { RunEmitter } from "../emitter.ts";
import { createRun, driveRun } from "../run-engine.ts";
import { RunControl } from "./run-control.ts";

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups) await c();
});

describe("RunControl and the engine", () => {
  it("a message sent the moment the control attaches reaches the first agent (an editor's second prompt)", async () => {
    const fx = await createWorkspaceFixture({ files: { "README.md": "# demo\n" } });
    cleanups.push(fx.cleanup);
    const sandbox = await createBackend("subprocess").create({
      workspace: fx.workspace.dir,
      network: "off",
      limits: { ...DEFAULT_LIMITS, timeoutMs: 20_000 },
    });
    cleanups.push(() => sandbox.destroy());
    const store = createMemoryEventStore({ ids: sequentialIds() });
    const sent: ModelMessage[][] = [];
    const model = createScriptedModel({
      turns: [
        (request) => {
          sent.push(structuredClone(request.messages));
          return { toolCalls: [{ name: "finish", arguments: { status: "done", summary: "ok" } }] };
        },
      ],
    });
    await createRun(store, "run_m", {
      task: "Make the change",
      repo: fx.repo,
      workspace: fx.workspace.dir,
      mode: "single",
      model: { provider: model.provider, model: model.id, scripted: true },
      sandbox: { backend: "subprocess", isolated: false, network: "off" },
      budget: { maxSteps: 5 },
      approval: "auto",
    });
    const control = new RunControl("run_m", { ids: sequentialIds() });
    // As a client does: the message goes out as soon as the engine has attached, before any agent starts.
    const attach = control.attach.bind(control);
    let told: Promise<string> | undefined;
    control.attach = (emitter: RunEmitter) => {
      attach(emitter);
      told = control.intervene({ message: "Keep the README short", by: "acp" });
    };
    const state = await driveRun(
      {
        store,
        model,
        sandbox,
        workspace: fx.workspace,
        tools: builtinTools,
        approval: { mode: "auto", approver: control.approver },
        ids: sequentialIds(),
        clock: () => 1_700_000_000_000,
        signal: new AbortController().signal,
        control,
      },
      "run_m",
    );
    await told;
    assert.equal(state.status, "succeeded");
    assert.match(JSON.stringify(sent[0]), /Keep the README short/);
    const events = await store.read("run_m");
    assert.ok(events.some((e) => e.type === "intervention.delivered"));
  });
});
