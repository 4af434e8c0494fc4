import { AgentRoster, plannerPhaseAgent } from "../../agents/index.ts";
import {
  type AgentReport,
  type ApprovalDecisionKind,
  type ApprovalMode,
  type PipelineStage,
  PLAN_APPROVAL_TOOL,
  planSchema,
} from "../../core/index.ts";
import { askApproval } from "../agent/agent-loop.ts";
import { planFromText } from "../agent/plan-text.ts";
import type { Approver } from "../control/approval.ts";
import {
  formatPlan,
  formatReport,
  latestPlan,
  type PhaseResult,
  type PhaseRunner,
  type TestVerdict,
  testVerdict,
} from "./phases.ts";
import { routeRequest } from "./route.ts";
import { verifyChange } from "./verify.ts";

export interface PipelineOptions {
  task: string;
  /** The project's test command, when known (detected or configured), and why. */
  testCommand?: { command: string; source: string };
  /** Implementer ↔ Tester rounds before the run gives up. */
  maxFixRounds: number;
  /** Plan rejections before the run gives up. */
  maxPlanAttempts: number;
  approval: { mode: ApprovalMode; approver: Approver };
  /** The orchestrator's own node in the agent tree. */
  rootAgentId: string;
  /** The run's agents by name (custom ones replace built-ins); default: the built-ins. */
  agents?: AgentRoster;
  /** Extra phases: agents (by name) run after a stage, in order (`pipeline.after` in the config). */
  after?: Partial<Record<PipelineStage, readonly string[]>>;
}

export interface OrchestrationOutcome {
  report: AgentReport;
}

/**
 * Pipeline mode: Analyzer → Implementer's plan (a checkpoint a person may approve, edit or send back) →
 * Implementer → Tester ↺ Implementer (bounded rounds) → Refactorer → Tester → diff. Written as straight-line
 * code over `PhaseRunner`, so a crashed run resumes at the phase it was in. Each agent receives the task
 * and the previous agents' reports, never their transcripts.
 */
export async function runPipeline(
  phases: PhaseRunner,
  options: PipelineOptions,
): Promise<OrchestrationOutcome> {
  const { task, rootAgentId: parent } = options;
  const agents = options.agents ?? new AgentRoster();
  const [analyzerAgent, implementerAgent, testerAgent, refactorerAgent] = [
    "analyzer",
    "implementer",
    "tester",
    "refactorer",
  ].map((name) => agents.require(name)) as [AgentDef, AgentDef, AgentDef, AgentDef];
  const testCmd = options.testCommand;
  const testLine = testCmd
    ? `The project's test command is \`${testCmd.command}\` (${testCmd.source}).`
    : "No test command was detected; find out how this project runs its tests.";
  const header = `Task from the user:\n${task}\n\n${testLine}`;

  // A question or a read-only request is answered by the Analyzer alone: no plan, no edits.
  const routed = phases.events.find((e) => e.type === "run.routed");
  let route = routed?.type === "run.routed" ? routed.data : undefined;
  if (!route) {
    route = routeRequest(task);
    await phases.emit({ type: "run.routed", agentId: parent, data: route });
  }
  if (route.route === "answer") {
    const answer = await phases.run({
      phase: "answer",
      agent: analyzerAgent,
      parentAgentId: parent,
      reason: `${route.reason}: the Analyzer answers, nothing is changed`,
      task: `Task from the user:\n${task}\n\nThis is a question or a read-only request: nothing is to be changed. Find what is needed in the code, then give the user the complete answer as your report's summary (file paths, names, short excerpts where they help).`,
    });
    return { report: { ...answer.report, filesChanged: [] } };
  }

  const analysis = await phases.run({
    phase: "analyze",
    agent: analyzerAgent,
    parentAgentId: parent,
    reason: "first, understand what exists and what must change",
    task: `${header}\n\nInvestigate the code and report what exists and what must change.`,
  });
  const afterAnalysis = await extraPhases(phases, options, agents, "analyze", {
    from: "analyzer",
    context: `${header}\n\n${formatReport("The Analyzer's report", analysis.report)}`,
  });
  if (afterAnalysis.stop) return afterAnalysis.stop;
  const analysisText = [
    formatReport("The Analyzer's report", analysis.report),
    ...afterAnalysis.reports,
  ].join("\n\n");

  const plan = await planCheckpoint(phases, options, header, analysisText);
  if (!plan.ok) return { report: { status: "blocked", summary: plan.summary, filesChanged: [] } };
  const planText = `The approved plan:\n${plan.text}`;

  let implement: PhaseResult | undefined;
  let test: PhaseResult | undefined;
  let verdict: TestVerdict | undefined;
  for (let round = 1; round <= options.maxFixRounds + 1; round++) {
    const feedback =
      test && verdict
        ? `\n\n${formatReport(`The Tester's report (round ${round - 1})`, test.report, verdict)}\n\nFix the cause of these failures.`
        : "\n\nImplement the plan.";
    implement = await phases.run({
      phase: `implement#${round}`,
      agent: implementerAgent,
      parentAgentId: parent,
      from: round === 1 ? "implementer" : "tester",
      reason: round === 1 ? "the plan is approved" : `tests failed: ${verdict?.description}`,
      task: `${header}\n\n${planText}\n\n${analysisText}${feedback}`,
    });
    if (implement.report.status === "blocked" || implement.report.status === "failed") {
      return {
        report: {
          ...implement.report,
          summary: `The Implementer stopped (${implement.report.status}): ${implement.report.summary}`,
        },
      };
    }
    test = await phases.run({
      phase: `test#${round}`,
      agent: testerAgent,
      parentAgentId: parent,
      from: "implementer",
      reason: "verify the change",
      task: `${header}\n\n${planText}\n\n${formatReport("The Implementer's report", implement.report)}\n\nAdd tests where the change is not covered, run the test command, and report.`,
    });
    verdict = await worldVerdict(phases, test.agentId, test.report, testCmd);
    if (verdict.passed) break;
  }
  if (!verdict?.passed || !implement) {
    return {
      report: {
        status: "failed",
        summary: `The tests still fail after ${options.maxFixRounds + 1} implementation rounds: ${verdict?.description ?? "not run"}.`,
        filesChanged: implement?.report.filesChanged ?? [],
        testsPassed: false,
      },
    };
  }

  const reportsSoFar = `${formatReport("The Implementer's report", implement.report)}\n\n${formatReport("The Tester's report", test!.report, verdict)}`;
  const afterTests = await extraPhases(phases, options, agents, "test", {
    from: "tester",
    context: `${header}\n\n${reportsSoFar}`,
  });
  if (afterTests.stop) return afterTests.stop;
  const beforeRefactor = refactorBase(phases);
  const refactor = await phases.run({
    phase: "refactor",
    agent: refactorerAgent,
    parentAgentId: parent,
    from: afterTests.last ?? "tester",
    reason: `tests pass (${verdict.description}); clean up`,
    task: `${header}\n\n${[reportsSoFar, ...afterTests.reports].join("\n\n")}\n\nClean up the changed code without changing behaviour.`,
  });
  const afterRefactor = await extraPhases(phases, options, agents, "refactor", {
    from: "refactorer",
    context: `${header}\n\n${[reportsSoFar, ...afterTests.reports, formatReport("The Refactorer's report", refactor.report)].join("\n\n")}`,
  });
  if (afterRefactor.stop) return afterRefactor.stop;
  const finalTest = await phases.run({
    phase: "test#final",
    agent: testerAgent,
    parentAgentId: parent,
    from: afterRefactor.last ?? "refactorer",
    reason: "verify the clean-up",
    task: `${header}\n\n${[formatReport("The Refactorer's report", refactor.report), ...afterRefactor.reports].join("\n\n")}\n\nRun the test command again and report. Do not change code or tests now.`,
  });
  const finalVerdict = await worldVerdict(phases, finalTest.agentId, finalTest.report, testCmd);
  let summary = `${implement.report.summary.trim()}\nTests: ${finalVerdict.description}.`;
  if (!finalVerdict.passed) {
    // The clean-up broke what worked: undo it, keep the working change.
    if (!phases.events.some((e) => e.type === "workspace.restored" && e.data.ref === beforeRefactor)) {
      await phases.deps.workspace.restore(beforeRefactor);
      await phases.emit({
        type: "workspace.restored",
        agentId: parent,
        data: {
          ref: beforeRefactor,
          reason: `the Refactorer's change broke the tests (${finalVerdict.description}); reverted it`,
        },
      });
    }
    const who = ["the Refactorer", ...afterRefactor.results.map((r) => r.name)].join(", ");
    summary = `${implement.report.summary.trim()}\nTests: ${verdict.description}. The clean-up (${who}) broke the tests and was reverted.`;
  } else if (refactor.report.filesChanged.length > 0) {
    summary += `\nClean-up: ${refactor.report.summary.trim()}`;
  }
  const extras = [...afterAnalysis.results, ...afterTests.results, ...afterRefactor.results];
  for (const extra of extras) summary += `\n${extra.name}: ${extra.result.report.summary.trim()}`;
  const files = new Set([
    ...implement.report.filesChanged,
    ...afterAnalysis.results.flatMap((r) => r.result.report.filesChanged),
    ...afterTests.results.flatMap((r) => r.result.report.filesChanged),
    ...(finalVerdict.passed
      ? [
          ...refactor.report.filesChanged,
          ...afterRefactor.results.flatMap((r) => r.result.report.filesChanged),
        ]
      : []),
  ]);
  return {
    report: { status: "done", summary, filesChanged: [...files], testsPassed: true, testsRun: verdict.runs },
  };
}

type AgentDef = ReturnType<AgentRoster["require"]>;

/**
 * Whether the tests pass after a Tester's phase, from exit codes only: the Tester's own run of the test
 * command, or — when it did not run it (a model that forgot, or claimed success without running anything) —
 * a run of the command by the orchestrator itself, logged as a verification.
 */
async function worldVerdict(
  phases: PhaseRunner,
  agentId: string,
  report: AgentReport,
  testCmd: PipelineOptions["testCommand"],
): Promise<TestVerdict> {
  const verdict = testVerdict(agentId, phases.events, report, testCmd?.command);
  if (!testCmd || verdict.runs.some((r) => r.command.includes(testCmd.command))) return verdict;
  const checked = await verifyChange({
    emitter: phases.deps.emitter,
    sandbox: phases.deps.sandbox,
    events: phases.events,
    signal: phases.deps.signal,
    testCommand: testCmd,
    enabled: true,
  });
  if (checked.exitCode === undefined) return verdict;
  return {
    passed: checked.status === "passed",
    description: `${checked.reason}, run by Entourage since the Tester did not run it${checked.status === "passed" ? " (passed)" : " (failed)"}`,
    runs: [...verdict.runs, { command: checked.command ?? testCmd.command, exitCode: checked.exitCode }],
  };
}

/**
 * Runs the extra phases configured after `stage`, in order, each a phase keyed `<stage>+<agent>` (so a
 * resumed run finds it again). Each sees the reports so far, its predecessors' included. A `failed` or
 * `blocked` report stops the pipeline, so an extra phase can act as a gate (e.g. a security review).
 */
async function extraPhases(
  phases: PhaseRunner,
  options: PipelineOptions,
  agents: AgentRoster,
  stage: PipelineStage,
  handoff: { from: string; context: string },
): Promise<{
  results: { name: string; result: PhaseResult }[];
  reports: string[];
  last?: string;
  stop?: OrchestrationOutcome;
}> {
  const results: { name: string; result: PhaseResult }[] = [];
  const reports: string[] = [];
  let from = handoff.from;
  for (const name of options.after?.[stage] ?? []) {
    const agent = agents.get(name);
    // The composition root reported an agent that did not load; the pipeline goes on without it.
    if (!agent) continue;
    const result = await phases.run({
      phase: `${stage}+${name}`,
      agent,
      parentAgentId: options.rootAgentId,
      from,
      reason: `extra phase after ${stage} (pipeline.after.${stage})`,
      task: `${[handoff.context, ...reports].join("\n\n")}\n\nYour part: ${agent.description} Report with finish; use status "blocked" or "failed" only if the run must stop.`,
    });
    results.push({ name, result });
    reports.push(formatReport(`The report of ${name}`, result.report));
    from = name;
    if (result.report.status === "blocked" || result.report.status === "failed") {
      return {
        results,
        reports,
        last: from,
        stop: {
          report: {
            ...result.report,
            summary: `${name} stopped the pipeline (${result.report.status}): ${result.report.summary}`,
          },
        },
      };
    }
  }
  return { results, reports, last: results.length > 0 ? from : undefined };
}

/** The checkpoint the workspace was at when the Refactorer started (its change is undone from here). */
function refactorBase(phases: PhaseRunner): string {
  const started = phases.findStarted("refactor");
  let ref = phases.deps.workspace.baseRef;
  for (const e of phases.events) {
    if (started && e.seq >= started.seq) break;
    if (e.type === "checkpoint.created") ref = e.data.ref;
  }
  return ref;
}

/**
 * The plan phase ended without the plan tool: a plan written in text is the plan; an agent that gave nothing
 * usable (out of steps, stuck) leaves the Analyzer's report as the plan. Either way a person sees it at the
 * checkpoint as usual, and the log says which fallback was taken.
 */
async function planFallback(
  phases: PhaseRunner,
  result: PhaseResult,
  analysisText: string,
): Promise<NonNullable<ReturnType<typeof latestPlan>>> {
  const text = result.reason === "no_tool_calls" ? result.report.summary.trim() : "";
  const plan = text
    ? planFromText(text)
    : {
        facts: [analysisText.slice(0, 4000)],
        steps: [
          {
            id: "s1",
            description: "Carry out the task as the Analyzer's report describes, then run the tests.",
            owner: "implementer",
            status: "pending" as const,
          },
        ],
      };
  await phases.emit({
    type: "protocol.fallback",
    agentId: result.agentId,
    data: text
      ? {
          kind: "plan_from_text",
          detail: `the plan was written in text (${plan.steps.length} step${plan.steps.length === 1 ? "" : "s"} read from it) instead of a propose_plan call`,
        }
      : {
          kind: "plan_from_analysis",
          detail: `no plan was proposed (${result.reason}: ${result.report.summary.slice(0, 200)}); the Analyzer's report is the plan`,
        },
  });
  const planId = phases.deps.ids("plan");
  await phases.emit({ type: "plan.proposed", agentId: result.agentId, data: { planId, plan } });
  return { planId, plan, approved: false };
}

type PlanDecision = {
  decision: ApprovalDecisionKind;
  by: string;
  reason?: string;
  editedArgs?: unknown;
};

/** A plan decision already in the log (a resumed run does not ask twice). */
async function recordedPlanDecision(phases: PhaseRunner, agentId: string): Promise<PlanDecision | undefined> {
  const asked = phases.events.find(
    (e) => e.type === "approval.requested" && e.agentId === agentId && e.data.tool === PLAN_APPROVAL_TOOL,
  );
  if (asked?.type !== "approval.requested") return undefined;
  const answer = phases.events.find(
    (e) => e.type === "approval.resolved" && e.data.approvalId === asked.data.approvalId,
  );
  return answer?.type === "approval.resolved" ? answer.data : undefined;
}

function askPlan(
  phases: PhaseRunner,
  options: PipelineOptions,
  agentId: string,
  plan: unknown,
): Promise<PlanDecision> {
  return askApproval(
    { ...phases.deps, approval: options.approval },
    {
      agentId,
      tool: PLAN_APPROVAL_TOOL,
      args: plan,
      risk: "write",
      reason: "plan checkpoint: approve, edit or send back the plan before anything changes",
    },
  );
}

/**
 * The plan checkpoint: the Implementer proposes a plan; unless approvals are off, a person approves it,
 * edits it (the edited plan is what the agents follow) or sends it back with a reason (a new plan is
 * proposed with that feedback). Everything is an event, so a resumed run does not ask twice.
 */
async function planCheckpoint(
  phases: PhaseRunner,
  options: PipelineOptions,
  header: string,
  analysisText: string,
): Promise<{ ok: true; text: string } | { ok: false; summary: string }> {
  let feedback = "";
  for (let attempt = 1; attempt <= options.maxPlanAttempts; attempt++) {
    const result = await phases.run({
      phase: attempt === 1 ? "plan" : `plan#${attempt}`,
      agent: plannerPhaseAgent,
      parentAgentId: options.rootAgentId,
      from: "analyzer",
      reason: attempt === 1 ? "propose a plan before changing anything" : "the plan was sent back",
      task: `${header}\n\n${analysisText}${feedback}\n\nPropose the plan with propose_plan.`,
    });
    const plan =
      latestPlan(
        phases.events.filter((e) => e.agentId === result.agentId || e.agentId === options.rootAgentId),
      ) ?? (await planFallback(phases, result, analysisText));
    if (plan.approved) return { ok: true, text: formatPlan(plan.plan) };
    if (options.approval.mode === "auto") {
      await phases.emit({
        type: "plan.approved",
        agentId: options.rootAgentId,
        data: { planId: plan.planId, by: "auto" },
      });
      return { ok: true, text: formatPlan(plan.plan) };
    }
    const decision =
      (await recordedPlanDecision(phases, result.agentId)) ??
      (await askPlan(phases, options, result.agentId, plan.plan));
    if (decision.decision === "approve") {
      await phases.emit({
        type: "plan.approved",
        agentId: options.rootAgentId,
        data: { planId: plan.planId, by: decision.by },
      });
      return { ok: true, text: formatPlan(plan.plan) };
    }
    if (decision.decision === "edit") {
      const edited = planSchema.safeParse(decision.editedArgs);
      if (edited.success) {
        await phases.emit({
          type: "plan.revised",
          agentId: options.rootAgentId,
          data: { planId: plan.planId, plan: edited.data, by: decision.by, reason: decision.reason },
        });
        return { ok: true, text: formatPlan(edited.data) };
      }
      feedback = `\n\nThe user's edit of your plan was not a valid plan (${edited.error.issues[0]?.message}); propose again.`;
      continue;
    }
    feedback = `\n\nThe user sent your previous plan back${decision.reason ? `: ${decision.reason}` : " without a reason"}. Propose a better plan.`;
  }
  return { ok: false, summary: `The plan was sent back ${options.maxPlanAttempts} times; stopping.` };
}
