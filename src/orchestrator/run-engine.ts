import { hostname } from "node:os";
import { type AgentDefinition, AgentRoster } from "../agents/index.ts";
import {
  AbortedError,
  type AgentReport,
  type ApprovalMode,
  type ApprovalRule,
  type Clock,
  createdData,
  EntourageError,
  type EntourageEvent,
  type EventData,
  effectiveEvents,
  errorMessage,
  foldRun,
  type IdGenerator,
  isTerminal,
  type RunState,
  UserError,
} from "../core/index.ts";
import type { Model } from "../llm/index.ts";
import type { Sandbox } from "../sandbox/index.ts";
import type { EventStore } from "../store/index.ts";
import type { ToolDefinition } from "../tools/index.ts";
import type { Workspace } from "../workspace/index.ts";
import { checkpoint } from "./agent/agent-loop.ts";
import type { Approver } from "./control/approval.ts";
import type { RunControl } from "./control/run-control.ts";
import { RunEmitter } from "./emitter.ts";
import { runDynamic } from "./modes/dynamic.ts";
import { currentFollowUp, runFollowUp } from "./modes/follow-up.ts";
import { PhaseRunner } from "./modes/phases.ts";
import { runPipeline } from "./modes/pipeline.ts";
import { runSetup, verifyChange } from "./modes/verify.ts";

/** Everything a run needs, chosen by the composition root (CLI or server). */
export interface RunContext {
  store: EventStore;
  model: Model;
  sandbox: Sandbox;
  workspace: Workspace;
  tools: readonly ToolDefinition[];
  approval: { mode: ApprovalMode; approver: Approver; rules?: readonly ApprovalRule[] };
  ids: IdGenerator;
  clock: Clock;
  signal: AbortSignal;
  /** The driver whose stale lease this process took over (it died or went silent), for the log. */
  tookOverFrom?: { pid: number; host: string; label: string };
  /** The live handle through which people steer this run (API, dashboard, terminal); optional. */
  control?: RunControl;
  /** Dynamic mode: a sandbox for a parallel agent's own workspace copy, and where those copies live. */
  sandboxFor?: (workspaceDir: string) => Promise<Sandbox>;
  agentsDir?: string;
  /** Models for agents that name their own (`model:` of a custom agent), built by the composition root. */
  modelFor?: (modelId: string) => Model | undefined;
  /** A sandbox for the setup command when it may use the network (`setupNetwork: on`); default: the run's. */
  setupSandbox?: () => Promise<Sandbox>;
}

/** Logs `run.created` for a new run. Nothing runs yet: `driveRun` does that. */
export async function createRun(
  store: EventStore,
  runId: string,
  data: EventData<"run.created">,
): Promise<void> {
  await store.append(runId, [
    { type: "run.created", data },
    { type: "run.status", data: { status: "queued" } },
  ]);
}

/** The setup command on the sandbox it may use (its own when setup has network), released afterwards. */
async function setupOnce(
  ctx: RunContext,
  emitter: RunEmitter,
  events: readonly EntourageEvent[],
  signal: AbortSignal,
  setup: { command: string; network: "off" | "on" },
) {
  const own = setup.network === "on" && ctx.setupSandbox ? await ctx.setupSandbox() : undefined;
  try {
    return await runSetup({ emitter, sandbox: own ?? ctx.sandbox, events, signal, setup });
  } finally {
    await own?.destroy();
  }
}

/** The first message an agent receives: the user's task and where it works. */
function taskMessage(task: string): string {
  return `${task}\n\n(You are working in a private copy of the repository; paths are relative to its root.)`;
}

/**
 * Runs a run from wherever its log stops: a new run from the beginning, a crashed one from its last
 * completed step. All progress comes from the log, so calling this twice never repeats a completed step.
 * Resolves with the folded final state. On abort (SIGINT, cancel) the run is left `paused` and resumable.
 */
export async function driveRun(
  ctx: RunContext,
  runId: string,
  options: { agent?: AgentDefinition; maxFixRounds?: number; agents?: readonly AgentDefinition[] } = {},
): Promise<RunState> {
  const events = await ctx.store.read(runId);
  if (events.length === 0)
    throw new UserError("run_not_found", `No run with id ${runId}. List runs with: entourage runs`);
  const before = foldRun(runId, events);
  if (isTerminal(before.status)) {
    throw new UserError(
      "run_finished",
      `Run ${runId} has already ${before.status}; there is nothing to resume. Its change: entourage diff ${runId}`,
    );
  }
  const emitter = new RunEmitter(ctx.store, runId);
  // Everything written from here on is part of the history the phases see, a person's message sent the
  // moment the control attaches included (it would otherwise reach no agent).
  const written: EntourageEvent[] = [];
  let collecting = true;
  emitter.onWrite((event) => {
    if (collecting) written.push(event);
  });
  ctx.control?.attach(emitter);
  // Stopped by the process (SIGINT: resumable) or by a person's cancel (final).
  const signal = ctx.control ? AbortSignal.any([ctx.signal, ctx.control.signal]) : ctx.signal;
  const approval = ctx.control ? { ...ctx.approval, approver: ctx.control.approver } : ctx.approval;
  const resumed = events.some((e) => e.type === "run.attached");
  await emitter.emit({
    type: "run.attached",
    data: { pid: process.pid, resumed, host: hostname(), tookOverFrom: ctx.tookOverFrom },
  });
  await emitter.emit({ type: "run.status", data: { status: "running" } });

  try {
    if (resumed) await logUnloggedSnapshot(ctx.workspace, emitter, events);
    const created = createdData(runId, events);
    // Custom agents and tool grants are fixed in run.created, so a resumed run has the same team.
    const agents = new AgentRoster(created.agents, created.agentTools);
    const phases = new PhaseRunner(
      {
        emitter,
        model: ctx.model,
        tools: ctx.tools,
        workspace: ctx.workspace,
        sandbox: ctx.sandbox,
        approval,
        budget: {
          maxSteps: created.budget.maxSteps,
          maxTokens: created.budget.maxTokens,
          maxCostUsd: created.budget.maxCostUsd,
          used: { tokens: before.usage.inputTokens + before.usage.outputTokens, costUsd: before.costUsd },
        },
        ids: ctx.ids,
        clock: ctx.clock,
        signal,
        control: ctx.control,
        projectContext: created.projectContext,
        modelFor: ctx.modelFor,
      },
      // After a rewind the run continues from the state it had at the chosen event.
      effectiveEvents([...events, ...written]),
      (name) => agents.get(name),
    );
    collecting = false; // the phase runner follows the writes from now on
    if (created.setup) {
      const setup = await setupOnce(ctx, emitter, phases.events, signal, created.setup);
      if (setup.exitCode !== 0 || setup.timedOut) {
        const how = setup.timedOut ? "timed out" : `exited ${setup.exitCode}`;
        const last = setup.output.trim().split("\n").slice(-5).join("\n");
        await emitter.emit({
          type: "run.finished",
          data: {
            status: "failed",
            summary: `The setup command \`${setup.command}\` ${how}, so no agent started. Fix it (or setupCommand in .entourage/config.json), then start the run again.${last ? `\n${last}` : ""}`,
            error: { code: "setup_failed", message: `${setup.command} ${how}` },
          },
        });
        await emitter.flush();
        return foldRun(runId, await ctx.store.read(runId));
      }
      await checkpoint({ workspace: ctx.workspace, emitter }, undefined, "setup");
    }
    let outcome: { report: AgentReport };
    // A finished run reopened with a follow-up request (run.reopened): one follow-up phase, whatever the mode.
    const followUp = currentFollowUp(phases.events);
    if (followUp) {
      outcome = await runFollowUp(phases, {
        task: before.task,
        followUp,
        agent: options.agent ?? agents.require("general"),
      });
    } else if (created.mode === "pipeline" || created.mode === "dynamic") {
      const name = created.mode === "pipeline" ? "pipeline" : "dynamic";
      // The orchestrator is the root of the agent tree; its node is created once and found again on resume.
      let root = phases.events.find((e) => e.type === "agent.started" && e.data.phase === "orchestrator");
      root ??= await phases.emit({
        type: "agent.started",
        agentId: ctx.ids("agent"),
        data: {
          name,
          role:
            created.mode === "pipeline"
              ? "Orchestrates Analyzer → plan → Implementer ⇄ Tester → Refactorer → Tester."
              : "A planner delegates to the specialists, sequentially or in parallel.",
          task: before.task,
          model: `${ctx.model.provider}/${ctx.model.id}`,
          tools: [],
          phase: "orchestrator",
        },
      });
      const rootAgentId = root.agentId!;
      if (created.mode === "pipeline") {
        outcome = await runPipeline(phases, {
          task: before.task,
          testCommand: created.testCommand,
          maxFixRounds: options.maxFixRounds ?? 3,
          maxPlanAttempts: 3,
          approval,
          rootAgentId,
          agents,
          after: created.pipeline?.after,
        });
      } else {
        if (!ctx.sandboxFor || !ctx.agentsDir) {
          throw new UserError(
            "mode_unavailable",
            "Dynamic mode needs a sandbox factory for parallel agents.",
          );
        }
        outcome = await runDynamic(phases, {
          task: before.task,
          testCommand: created.testCommand,
          agents: options.agents ?? agents.delegates(),
          planner: agents.require("planner"),
          rootAgentId,
          agentsDir: ctx.agentsDir,
          sandboxFor: ctx.sandboxFor,
        });
      }
      if (!phases.events.some((e) => e.type === "agent.finished" && e.agentId === rootAgentId)) {
        await phases.emit({
          type: "agent.finished",
          agentId: rootAgentId,
          data: { name, report: outcome.report, reason: "finish" },
        });
      }
    } else {
      outcome = await phases.run({
        phase: "task",
        agent: options.agent ?? agents.require("general"),
        task: taskMessage(before.task),
        reason: "the user's task",
      });
    }
    await checkpoint({ workspace: ctx.workspace, emitter }, undefined, "final");
    const changes = await ctx.workspace.changes();
    await emitter.emit({
      type: "diff.ready",
      data: {
        baseRef: ctx.workspace.baseRef,
        headRef: (await ctx.workspace.head()) ?? ctx.workspace.baseRef,
        files: changes.files,
        insertions: changes.insertions,
        deletions: changes.deletions,
      },
    });
    // Truth from the world: a change is judged by the project's tests, run here, not by a model's report.
    const verification =
      changes.files.length > 0
        ? await verifyChange({
            emitter,
            sandbox: ctx.sandbox,
            events: phases.events,
            signal,
            testCommand: created.testCommand,
            enabled: created.verify ?? true,
          })
        : undefined;
    const done = outcome.report.status === "done";
    const succeeded = done && verification?.status !== "failed";
    let summary = outcome.report.summary;
    if (verification?.status === "failed" && done) {
      summary = `The change does not pass the project's tests: ${verification.reason}.\n${summary}`;
    } else if (verification?.status === "not_verified") {
      summary = `${summary}\nNot verified: ${verification.reason}.`;
    } else if (verification?.status === "passed" && !/\bTests: /.test(summary)) {
      summary = `${summary}\nTests: ${verification.reason} (passed).`;
    }
    await emitter.emit({
      type: "run.finished",
      data: { status: succeeded ? "succeeded" : "failed", summary },
    });
  } catch (error) {
    if (ctx.control?.cancelled) {
      const { by, reason } = ctx.control.cancelled;
      await emitter.flush().catch(() => {});
      await emitter.emit({
        type: "run.finished",
        data: { status: "cancelled", summary: `Cancelled by ${by}${reason ? `: ${reason}` : ""}.` },
      });
      await emitter.flush();
      return foldRun(runId, await ctx.store.read(runId));
    }
    if (AbortedError.isInstance(error) || signal.aborted) {
      await emitter.flush().catch(() => {});
      await emitter.emit({
        type: "run.status",
        data: { status: "paused", reason: `interrupted; continue with: entourage resume ${runId}` },
      });
      await emitter.flush();
      throw error instanceof Error ? error : new AbortedError();
    }
    const code = EntourageError.isInstance(error) ? error.code : "internal_error";
    const message = errorMessage(error);
    await emitter.flush().catch(() => {});
    await emitter.emit({
      type: "run.finished",
      data: { status: "failed", summary: message, error: { code, message } },
    });
  }
  await emitter.flush();
  return foldRun(runId, await ctx.store.read(runId));
}

/**
 * A driver that stopped between a snapshot's commit and its `checkpoint.created` left a commit no event
 * names: the next snapshot finds nothing to commit, so whatever reads "a file changed since" from the log
 * (verification's reuse of an agent's test result, rewind's points) would miss the change. Logged when the
 * run is resumed, before anything reads the log.
 */
async function logUnloggedSnapshot(
  workspace: Workspace,
  emitter: RunEmitter,
  events: readonly EntourageEvent[],
): Promise<void> {
  const head = await workspace.head();
  if (head === workspace.baseRef) return;
  for (const e of events) {
    if ((e.type === "checkpoint.created" || e.type === "workspace.restored") && e.data.ref === head) return;
    if (e.type === "workspace.merged" && e.data.ref === head) return;
  }
  const { files } = await workspace.changes({ from: `${head}^`, to: head });
  await emitter.emit({
    type: "checkpoint.created",
    data: {
      ref: head,
      label: "recovered: a snapshot taken before the run's driver stopped, not logged then",
      filesChanged: files.map((f) => f.path),
    },
  });
}
