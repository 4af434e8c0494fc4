import {
  AbortedError,
  type AgentReport,
  describeRule,
  EntourageError,
  type EventData,
  errorMessage,
} from "../../core/index.ts";
import type { ModelMessage } from "../../llm/index.ts";
import type { DiskQuotaBreach } from "../../sandbox/index.ts";
import {
  executeTool,
  prepareCall,
  type Risk,
  type ToolDefinition,
  type ToolResult,
} from "../../tools/index.ts";
import { type ApprovalDecision, decide, type PolicyVerdict } from "../control/approval.ts";
import type { AgentLoopDeps, AgentOutcome } from "./types.ts";

export type ToolCall = { id: string; name: string; args: unknown; argsError?: string };

/**
 * Runs one turn's tool calls in order. `resumed` carries what the log already holds for these calls: a
 * call with a result is skipped; a call whose intent was logged but whose result was not was cut off by
 * a crash. A call that never started (e.g. the process died while waiting for approval) goes through the
 * gate again; one that started is re-run if it only reads, and otherwise reported to the model as
 * interrupted (its effects may or may not be in the workspace) rather than silently repeated.
 * Returns an outcome when the agent called `finish`.
 */
export async function handleToolCalls(
  deps: AgentLoopDeps,
  tools: readonly ToolDefinition[],
  agentId: string,
  step: number,
  calls: readonly ToolCall[],
  messages: ModelMessage[],
  resumed:
    | { requested: Map<string, EventData<"tool.call.requested">>; started: Set<string>; ended: Set<string> }
    | undefined,
): Promise<{ finish?: AgentOutcome; checkpoints: number }> {
  const { emitter } = deps;
  const results: { callId: string; name: string; output: string; isError: boolean }[] = [];
  let checkpoints = 0;
  let finish: AgentOutcome | undefined;
  // Protocol calls (finish, the plan) go last so every other call of the turn has its result first.
  const protocolOf = (name: string) => tools.find((t) => t.name === name)?.protocol;
  const ordered = [...calls.filter((c) => !protocolOf(c.name)), ...calls.filter((c) => protocolOf(c.name))];
  for (const call of ordered) {
    if (resumed?.ended.has(call.id)) continue;
    if (deps.signal.aborted) throw new AbortedError("the run was interrupted");
    const end = async (
      output: string,
      isError: boolean,
      extra: Partial<EventData<"tool.call.ended">> = {},
    ): Promise<void> => {
      results.push({ callId: call.id, name: call.name, output, isError });
      emitter.post({
        type: "tool.call.ended",
        agentId,
        data: { callId: call.id, name: call.name, output, isError, durationMs: 0, ...extra },
      });
    };
    // With the workspace and sandbox: absolute paths become relative before approval rules see them.
    const where = { workspace: deps.workspace, sandbox: deps.sandbox };
    const prepared = prepareCall(tools, call.name, call.args, call.argsError, where);
    const logged = resumed?.requested.get(call.id);
    if (!logged) {
      // Durable before the call acts: `tool.call.started` or `approval.requested`, awaited below, follow it.
      emitter.post({
        type: "tool.call.requested",
        agentId,
        data: {
          callId: call.id,
          name: call.name,
          args: call.args,
          risk: prepared.ok ? prepared.risk : "execute",
          step,
        },
      });
    }
    if (!prepared.ok) {
      // A tool the run has but this agent's allow-list leaves out: refused, and the agent is told why.
      if (prepared.reason === "unknown_tool" && deps.tools.some((t) => t.name === call.name)) {
        const finishName = tools.find((t) => t.protocol === "finish")?.name;
        const or = finishName ? `, or call ${finishName} and say what you need` : "";
        await end(
          `${call.name} is not in this agent's tool allow-list, so the call was refused. Its tools: ${tools.map((t) => t.name).join(", ")}. Use those${or}.`,
          true,
          { skipped: "not_allowed" },
        );
        continue;
      }
      await end(prepared.message, true, { skipped: prepared.reason });
      continue;
    }
    const interrupted = resumed?.started.has(call.id) ?? false;
    if (interrupted && prepared.risk !== "read" && !prepared.tool.idempotent) {
      await end(
        `This ${call.name} call was interrupted (the Entourage process stopped) before its result was recorded. ` +
          "Its effects may or may not be in the workspace: check before running it again.",
        true,
        { skipped: "interrupted" },
      );
      continue;
    }
    let input = prepared.input;
    const verdict: PolicyVerdict = interrupted
      ? { action: "allow" }
      : decide(
          {
            mode: deps.approval.mode,
            rules: [...(deps.approval.rules ?? []), ...(deps.control?.learnedRules ?? [])],
            planApproved: deps.planApproved,
          },
          { tool: call.name, risk: prepared.risk, args: input },
        );
    if (verdict.action === "deny") {
      await end(
        `This ${call.name} call is not allowed (${verdict.reason}). Do not retry it as is; adapt your approach.`,
        true,
        {
          skipped: "denied",
        },
      );
      continue;
    }
    if (verdict.action === "ask") {
      const decision = await askApproval(deps, {
        agentId,
        callId: call.id,
        tool: call.name,
        args: input,
        risk: prepared.risk,
        reason: verdict.reason,
      });
      if (decision.decision === "deny") {
        const why = decision.reason ? ` Reason: ${decision.reason}` : "";
        await end(
          `The user denied this ${call.name} call.${why} Do not retry it as is; adapt your approach.`,
          true,
          {
            skipped: "denied",
          },
        );
        continue;
      }
      if (decision.decision === "edit") {
        const edited = prepareCall(tools, call.name, decision.editedArgs, undefined, where);
        if (!edited.ok) {
          await end(`The user's edited arguments are invalid: ${edited.message}`, true, {
            skipped: "invalid",
          });
          continue;
        }
        input = edited.input;
      }
    }
    if (prepared.tool.protocol === "finish") {
      const args = input as {
        status: AgentReport["status"];
        summary: string;
        files_changed: string[];
        tests_passed?: boolean;
        notes?: string;
      };
      await end("Report received.", false);
      finish = {
        reason: "finish",
        report: {
          status: args.status,
          summary: args.summary,
          filesChanged: args.files_changed,
          testsPassed: args.tests_passed,
          notes: args.notes,
        },
      };
      continue;
    }
    if (prepared.tool.protocol === "plan") {
      const plan = input as { facts: string[]; steps: { description: string; owner: string }[] };
      await end("Plan received; it goes to the user for approval before anything changes.", false);
      await emitter.emit({
        type: "plan.proposed",
        agentId,
        data: {
          planId: deps.ids("plan"),
          plan: {
            facts: plan.facts,
            steps: plan.steps.map((st, i) => ({ id: `s${i + 1}`, ...st, status: "pending" as const })),
          },
        },
      });
      finish = {
        reason: "plan",
        report: {
          status: "done",
          summary: `Proposed a plan of ${plan.steps.length} step${plan.steps.length === 1 ? "" : "s"}.`,
          filesChanged: [],
        },
      };
      continue;
    }
    const result = await runTool(deps, prepared.tool, input, agentId, call.id, prepared.risk);
    await end(result.output, result.isError ?? false, {
      durationMs: (result.metadata?.durationMs as number | undefined) ?? 0,
      exitCode: result.metadata?.exitCode as number | undefined,
      metadata: result.metadata,
    });
    const quota = result.metadata?.diskQuota as DiskQuotaBreach | undefined;
    if (quota) {
      const command = (input as { command?: unknown }).command;
      await emitter.emit({
        type: "quota.exceeded",
        agentId,
        data: { callId: call.id, command: typeof command === "string" ? command : undefined, ...quota },
      });
    }
    if (result.changed === "unknown" || (result.changed && result.changed.length > 0)) {
      if (await checkpoint(deps, agentId, `${call.name} (step ${step})`, call.id)) checkpoints += 1;
    }
  }
  if (results.length > 0) {
    const last = messages.at(-1);
    if (last?.role === "tool") last.results.push(...results);
    else messages.push({ role: "tool", results });
  }
  return { finish, checkpoints };
}

async function runTool(
  deps: AgentLoopDeps,
  tool: ToolDefinition,
  input: unknown,
  agentId: string,
  callId: string,
  risk: Risk,
): Promise<ToolResult> {
  const { emitter } = deps;
  const started$ = { type: "tool.call.started", agentId, data: { callId, name: tool.name } } as const;
  // The intent is durable before an act with effects outside the log. A read has none, and a read cut
  // off is simply run again on resume, so it does not wait for the disk.
  if (risk === "read") emitter.post(started$);
  else await emitter.emit(started$);
  const started = deps.clock();
  try {
    const result = await executeTool(tool, input, {
      workspace: deps.workspace,
      sandbox: deps.sandbox,
      signal: deps.signal,
      onOutput: (text, stream) =>
        emitter.emitDelta({ type: "tool.output.delta", agentId, data: { callId, stream, text } }),
    });
    return { ...result, metadata: { durationMs: deps.clock() - started, ...result.metadata } };
  } catch (error) {
    if (AbortedError.isInstance(error) || deps.signal.aborted) throw error;
    const message = EntourageError.isInstance(error) ? error.message : errorMessage(error);
    return {
      output: `${tool.name} failed: ${message}`,
      isError: true,
      metadata: { durationMs: deps.clock() - started },
    };
  }
}

/** Snapshots the workspace (files changed by edits and by commands alike) and logs the checkpoint. */
export async function checkpoint(
  deps: Pick<AgentLoopDeps, "workspace" | "emitter">,
  agentId: string | undefined,
  label: string,
  callId?: string,
) {
  const snap = await deps.workspace.snapshot(label);
  if (!snap) return undefined;
  return deps.emitter.emit({
    type: "checkpoint.created",
    agentId,
    data: { ref: snap.ref, label, filesChanged: snap.filesChanged, callId },
  });
}

/**
 * Asks for a person's decision: logs `approval.requested`, waits for the first answer (terminal, API,
 * timeout), saves an "always allow" rule if one came with it, and logs `approval.resolved`.
 */
export async function askApproval(
  deps: Pick<AgentLoopDeps, "emitter" | "approval" | "ids" | "signal" | "control">,
  request: { agentId: string; callId?: string; tool: string; args: unknown; risk: Risk; reason: string },
): Promise<ApprovalDecision> {
  const approvalId = deps.ids("appr");
  const { agentId, ...data } = request;
  await deps.emitter.emit({ type: "approval.requested", agentId, data: { approvalId, ...data } });
  const decision = await deps.approval.approver({ approvalId, ...request }, deps.signal);
  if (decision.rule && deps.control) await deps.control.learn(decision.rule);
  await deps.emitter.emit({
    type: "approval.resolved",
    agentId,
    data: {
      approvalId,
      decision: decision.decision,
      by: decision.by,
      reason: decision.reason,
      editedArgs: decision.editedArgs,
      ruleLearned: decision.rule ? describeRule(decision.rule) : undefined,
    },
  });
  return decision;
}
