import { join } from "node:path";
import { z } from "zod";
import type { AgentDefinition } from "../../agents/index.ts";
import { plannerAgent } from "../../agents/index.ts";
import type { EntourageEvent } from "../../core/index.ts";
import type { Sandbox } from "../../sandbox/index.ts";
import { defineTool, type ToolDefinition } from "../../tools/index.ts";
import { Workspace } from "../../workspace/index.ts";
import { formatReport, type PhaseResult, type PhaseRunner, testVerdict } from "./phases.ts";
import type { OrchestrationOutcome } from "./pipeline.ts";

export interface DynamicOptions {
  task: string;
  testCommand?: { command: string; source: string };
  /** Agents the planner may delegate to, by name. */
  agents: readonly AgentDefinition[];
  /** The planner; default: the built-in one. */
  planner?: AgentDefinition;
  rootAgentId: string;
  /** Directory for the parallel agents' workspace copies (`<run>/agents/<agentId>/`). */
  agentsDir: string;
  /** A sandbox for a parallel agent's own workspace copy, with the run's backend and limits. */
  sandboxFor: (workspaceDir: string) => Promise<Sandbox>;
}

const ledgerInput = z.object({
  facts: z.array(z.string()).describe("What is true about the code that the plan relies on"),
  plan: z
    .array(
      z.object({
        description: z.string().min(1),
        owner: z.string().min(1).describe("Agent name"),
        status: z.enum(["pending", "in_progress", "done", "skipped"]).default("pending"),
      }),
    )
    .min(1),
  progress: z.object({
    done: z.boolean().describe("Is the whole task complete?"),
    progressing: z.boolean().describe("Did the last round make progress?"),
    stuck: z.boolean().describe("Are we going in circles?"),
    next: z.string().optional().describe("Agent that should act next"),
    note: z.string().describe("One or two sentences on where things stand"),
  }),
});

/** The planner's ledgers: the task ledger (facts, plan, owners) and the progress ledger, both as events. */
function ledgerTool(phases: PhaseRunner, rootAgentId: string): ToolDefinition {
  return defineTool({
    name: "update_ledger",
    description:
      "Records the task ledger (facts, plan steps with owners and status) and the progress ledger (done? progressing? stuck? who is next?). Call it before delegating and after each delegation.",
    input: ledgerInput,
    risk: "read",
    async execute(input) {
      const previous = phases.events.findLast((e) => e.type === "plan.proposed" || e.type === "plan.revised");
      const plan = {
        facts: input.facts,
        steps: input.plan.map((s, i) => ({ id: `s${i + 1}`, ...s })),
      };
      if (previous?.type === "plan.proposed" || previous?.type === "plan.revised") {
        await phases.emit({
          type: "plan.revised",
          agentId: rootAgentId,
          data: { planId: previous.data.planId, plan, by: "planner" },
        });
      } else {
        await phases.emit({
          type: "plan.proposed",
          agentId: rootAgentId,
          data: { planId: phases.deps.ids("plan"), plan },
        });
      }
      await phases.emit({ type: "ledger.updated", agentId: rootAgentId, data: input.progress });
      return { output: "Ledger recorded." };
    },
  });
}

const delegateInput = z.object({
  tasks: z
    .array(
      z.object({
        agent: z.string().min(1).describe("Name of the agent"),
        task: z.string().min(1).describe("Everything the agent needs: goal, files, what to report"),
      }),
    )
    .min(1)
    .max(6),
  parallel: z
    .boolean()
    .default(false)
    .describe(
      "Run the tasks at once, each in its own copy of the workspace, merged afterwards (independent tasks only)",
    ),
});

/**
 * `delegate`: runs specialist agents for the planner, in order or in parallel. It is idempotent under the
 * log: each delegated agent is a phase keyed by the call id, so a run resumed after a crash continues the
 * agents that were working instead of starting them again, and skips merges already recorded.
 */
function delegateTool(phases: PhaseRunner, options: DynamicOptions, plannerId: () => string): ToolDefinition {
  const names = options.agents.map((a) => `${a.name} (${a.description})`).join("; ");
  return defineTool({
    name: "delegate",
    description: `Hands tasks to specialist agents and returns their reports (and, for parallel tasks, the merge result). Agents: ${names}.`,
    input: delegateInput,
    risk: "write",
    idempotent: true,
    async execute(input, ctx) {
      const unknown = input.tasks.filter((t) => !options.agents.some((a) => a.name === t.agent));
      if (unknown.length > 0) {
        return {
          output: `Unknown agent(s): ${unknown.map((t) => t.agent).join(", ")}. Available: ${options.agents.map((a) => a.name).join(", ")}.`,
          isError: true,
        };
      }
      const callId = currentCallId(phases.events, plannerId());
      const testLine = options.testCommand
        ? `\n\nThe project's test command is \`${options.testCommand.command}\`.`
        : "";
      const spec = (t: { agent: string; task: string }, i: number) => ({
        phase: `delegate:${callId}:${i}`,
        agent: options.agents.find((a) => a.name === t.agent)!,
        task: `Task from the planner:\n${t.task}\n\n(The user's overall request: ${options.task})${testLine}`,
        reason: input.parallel ? "delegated (parallel)" : "delegated",
        from: "planner",
        parentAgentId: plannerId(),
      });
      const results: string[] = [];
      if (!input.parallel || input.tasks.length === 1) {
        for (const [i, t] of input.tasks.entries()) {
          if (ctx.signal.aborted) break;
          const result = await phases.run(spec(t, i));
          results.push(describe(phases, t.agent, result, options));
        }
        return { output: results.join("\n\n"), changed: "unknown" };
      }
      // Parallel: every agent that can change files gets its own copy of the workspace at the current
      // checkpoint. One that can only read needs none: it reads the run's workspace, which nobody else
      // writes while the copies are out.
      const base =
        (await phases.deps.workspace.snapshot(`before parallel delegation ${callId}`))?.ref ??
        (await phases.deps.workspace.head());
      const dirs = input.tasks.map((t, i) =>
        readOnly(spec(t, i).agent, phases.deps.tools)
          ? undefined
          : join(options.agentsDir, `${callId}-${i}`, "workspace"),
      );
      const existing = await Promise.all(
        dirs.map((dir) => (dir ? Workspace.open(dir).catch(() => undefined) : undefined)),
      );
      // Borrowing the run's objects (a copy is merged back into the workspace it came from), made together.
      const missing = dirs.filter((dir, i): dir is string => dir !== undefined && !existing[i]);
      const made = await phases.deps.workspace.cloneEachAt(base, missing);
      const copies = await Promise.all(
        input.tasks.map(async (t, i) => {
          const dir = dirs[i];
          if (dir === undefined) return { t, i };
          const workspace = existing[i] ?? made[missing.indexOf(dir)]!;
          const sandbox = await options.sandboxFor(workspace.dir);
          workspace.lendTo(sandbox.runAs);
          return { t, i, workspace, sandbox };
        }),
      );
      const release = async (c: (typeof copies)[number]) => {
        await c.sandbox?.destroy(); // idempotent: also called for all once every agent is done
        c.workspace?.lendTo(undefined);
      };
      const mergedAlready = (agentId: string) =>
        phases.events.some((e) => e.type === "workspace.merged" && e.data.fromAgentId === agentId);
      let outcomes: PhaseResult[];
      try {
        // Each agent's sandbox goes, and its copy's last snapshot is taken, as soon as that agent is done
        // (separate shadow gits), while the others still work.
        outcomes = await Promise.all(
          copies.map(async (c) => {
            const own = c.workspace ? { workspace: c.workspace, sandbox: c.sandbox } : {};
            const outcome = await phases.run(spec(c.t, c.i), own).finally(() => release(c));
            if (!mergedAlready(outcome.agentId)) await c.workspace?.snapshot(`final (${c.t.agent})`);
            return outcome;
          }),
        );
      } finally {
        await Promise.all(copies.map(release));
      }
      // Merged back in order; copies that touched separate files are all taken in one go.
      const pending = copies.filter((c, k) => c.workspace && !mergedAlready(outcomes[k]!.agentId));
      const merges = await phases.deps.workspace.mergeEach(
        pending.map((c) => ({ workspace: c.workspace!, label: `merge ${c.t.agent}` })),
        { base },
      );
      for (const [k, c] of copies.entries()) {
        const outcome = outcomes[k]!;
        results.push(describe(phases, c.t.agent, outcome, options));
        if (!pending.includes(c)) continue;
        const merge = merges[pending.indexOf(c)]!;
        await phases.emit({
          type: "workspace.merged",
          agentId: plannerId(),
          data: {
            fromAgentId: outcome.agentId,
            base,
            ref: merge.snapshot?.ref,
            merged: merge.merged,
            conflicts: merge.conflicts.map((x) => ({
              path: x.path,
              reason: x.reason,
              ours: x.ours,
              theirs: x.theirs,
              base: x.base,
            })),
          },
        });
        if (merge.conflicts.length > 0) {
          const detail = merge.conflicts
            .map(
              (x) =>
                `CONFLICT in ${x.path} (${x.reason}). The workspace keeps the version merged so far ("ours"); ${c.t.agent}'s version ("theirs") was NOT applied.\n--- base ---\n${x.base ?? "(absent)"}\n--- ours ---\n${x.ours ?? "(absent)"}\n--- theirs (${c.t.agent}) ---\n${x.theirs ?? "(absent)"}`,
            )
            .join("\n\n");
          results.push(
            `Merging ${c.t.agent}'s changes: ${merge.merged.length} file(s) merged, ${merge.conflicts.length} conflict(s):\n${detail}\nResolve each conflict by delegating a follow-up task.`,
          );
        } else {
          results.push(
            `Merging ${c.t.agent}'s changes: ${merge.merged.length} file(s) merged cleanly${merge.merged.length ? `: ${merge.merged.join(", ")}` : ""}.`,
          );
        }
      }
      return { output: results.join("\n\n"), changed: "unknown" };
    },
  });
}

/**
 * An agent that can only read: every tool it may call is a known one whose risk is always "read" (a
 * pattern, an unknown tool or one whose risk depends on its input — a command — may change files).
 */
export function readOnly(agent: AgentDefinition, tools: readonly ToolDefinition[]): boolean {
  return agent.tools.every((name) => tools.find((t) => t.name === name)?.risk === "read");
}

/** The call id of the planner's `delegate` call being executed: the last one it requested. */
function currentCallId(events: readonly EntourageEvent[], plannerId: string): string {
  const call = events.findLast(
    (e) => e.type === "tool.call.requested" && e.agentId === plannerId && e.data.name === "delegate",
  );
  return call?.type === "tool.call.requested" ? call.data.callId : "delegate";
}

function describe(phases: PhaseRunner, name: string, result: PhaseResult, options: DynamicOptions): string {
  const verdict =
    name === "tester"
      ? testVerdict(result.agentId, phases.events, result.report, options.testCommand?.command)
      : undefined;
  return formatReport(`Report of ${name}`, result.report, verdict);
}

/**
 * Dynamic mode: a planner keeps the ledgers and delegates to the specialists — one after another, or
 * several at once in separate workspace copies merged three-way afterwards, conflicts returned to the
 * planner with all versions. Like the pipeline, everything is found again in the log on resume.
 */
export async function runDynamic(
  phases: PhaseRunner,
  options: DynamicOptions,
): Promise<OrchestrationOutcome> {
  let plannerId = phases.findStarted("planner")?.agentId ?? "";
  const tools = [
    ...phases.deps.tools,
    ledgerTool(phases, options.rootAgentId),
    delegateTool(phases, options, () => plannerId),
  ];
  const testLine = options.testCommand
    ? `The project's test command is \`${options.testCommand.command}\` (${options.testCommand.source}).`
    : "No test command was detected.";
  const spec = {
    phase: "planner",
    agent: options.planner ?? plannerAgent,
    parentAgentId: options.rootAgentId,
    reason: "plan and delegate",
    task: `Task from the user:\n${options.task}\n\n${testLine}\n\nRecord the ledger, then delegate.`,
  };
  // The planner's id is known once its agent.started is written; the tools read it lazily.
  const unsubscribe = watchStarted(phases, "planner", (id) => {
    plannerId = id;
  });
  try {
    const result = await phases.run(spec, { tools });
    return { report: result.report };
  } finally {
    unsubscribe();
  }
}

function watchStarted(phases: PhaseRunner, phase: string, onStarted: (agentId: string) => void): () => void {
  let active = true;
  const found = phases.findStarted(phase);
  if (found?.agentId) onStarted(found.agentId);
  phases.deps.emitter.onWrite((e) => {
    if (active && e.type === "agent.started" && e.data.phase === phase && e.agentId) onStarted(e.agentId);
  });
  return () => {
    active = false;
  };
}
