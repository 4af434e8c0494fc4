import type { AgentDefinition } from "../../agents/index.ts";
import type { AgentReport, EntourageEvent, EventData } from "../../core/index.ts";
import { type AgentLoopDeps, type AgentOutcome, modelOf, runAgent } from "../agent/agent-loop.ts";

/** What one phase of an orchestration asks: which agent, with which task, handed over by whom. */
export interface PhaseSpec {
  /** Stable key, e.g. `analyze`, `implement#2`; finds the phase's agent in the log on resume. */
  phase: string;
  agent: AgentDefinition;
  task: string;
  /** Why this agent gets the work now (the hand-off event's reason). */
  reason: string;
  from?: string;
  parentAgentId?: string;
}

export interface PhaseResult extends AgentOutcome {
  agentId: string;
}

/**
 * Runs orchestration phases against the log: a phase whose agent already finished returns its recorded
 * outcome, one that started continues where it stopped, a new one is handed off and started. So an
 * orchestration written as straight-line code is resumable after a crash without repeating work.
 */
export class PhaseRunner {
  readonly deps: AgentLoopDeps;
  /** Every event of the run so far (grows as phases append). */
  events: EntourageEvent[];

  /** Finds an agent by name, for redirects to another agent. */
  readonly resolveAgent: (name: string) => AgentDefinition | undefined;

  constructor(
    deps: AgentLoopDeps,
    events: readonly EntourageEvent[],
    resolveAgent: (name: string) => AgentDefinition | undefined = () => undefined,
  ) {
    this.deps = deps;
    this.resolveAgent = resolveAgent;
    this.events = [...events];
    // Everything written from now on (by phases and by the agents) is seen by the phases that follow.
    deps.emitter.onWrite((event) => this.events.push(event));
  }

  emit(event: Parameters<AgentLoopDeps["emitter"]["emit"]>[0]): Promise<EntourageEvent> {
    return this.deps.emitter.emit(event);
  }

  findStarted(phase: string): EntourageEvent | undefined {
    return this.events.find((e) => e.type === "agent.started" && e.data.phase === phase);
  }

  /** Runs (or continues, or looks up) a phase; `overrides` give the agent e.g. its own workspace copy. */
  async run(spec: PhaseSpec, overrides: Partial<AgentLoopDeps> = {}): Promise<PhaseResult> {
    let started = this.findStarted(spec.phase);
    if (!started?.agentId) {
      const agentId = this.deps.ids("agent");
      const model = modelOf(this.deps, spec.agent);
      await this.emit({
        type: "agent.handoff",
        agentId: spec.parentAgentId,
        data: { from: spec.from, to: spec.agent.name, phase: spec.phase, reason: spec.reason },
      });
      started = await this.emit({
        type: "agent.started",
        agentId,
        data: {
          name: spec.agent.name,
          role: spec.agent.description,
          task: spec.task,
          model: `${model.provider}/${model.id}`,
          tools: [...spec.agent.tools],
          parentAgentId: spec.parentAgentId,
          phase: spec.phase,
        },
      });
    }
    const agentId = started.agentId!;
    const finished = this.events.find((e) => e.type === "agent.finished" && e.agentId === agentId);
    let result: PhaseResult;
    if (finished?.type === "agent.finished") {
      result = { agentId, report: finished.data.report, reason: finished.data.reason };
    } else {
      const outcome = await runAgent({ ...this.deps, ...overrides }, spec.agent, agentId, this.events);
      await this.deps.emitter.flush();
      result = { agentId, ...outcome };
    }
    return result.reason === "redirected" ? this.redirected(spec, overrides, agentId) : result;
  }

  /**
   * A person redirected the phase's agent: the phase starts over with their message — by the agent they
   * named, or by a fresh agent of the same kind (restart). Keyed `<phase>~<n>`, so resume finds it again.
   */
  private redirected(
    spec: PhaseSpec,
    overrides: Partial<AgentLoopDeps>,
    agentId: string,
  ): Promise<PhaseResult> {
    const delivered = this.events.findLast(
      (e) => e.type === "intervention.delivered" && e.data.agentId === agentId,
    );
    const received =
      delivered?.type === "intervention.delivered"
        ? this.events.find(
            (e) =>
              e.type === "intervention.received" && e.data.interventionId === delivered.data.interventionId,
          )
        : undefined;
    const message = received?.type === "intervention.received" ? received.data.message : "";
    const to = received?.type === "intervention.received" ? received.data.redirect?.to : undefined;
    const agent = (to && this.resolveAgent(to)) || spec.agent;
    const base = spec.phase.replace(/~\d+$/, "");
    const attempt = Number(/~(\d+)$/.exec(spec.phase)?.[1] ?? 1) + 1;
    return this.run(
      {
        ...spec,
        phase: `${base}~${attempt}`,
        agent,
        from: spec.agent.name,
        reason: !to
          ? "restarted by the user"
          : agent.name === to
            ? `redirected by the user to ${agent.name}`
            : `redirected by the user to "${to}", which is no agent of this run: restarted with ${agent.name} instead`,
        task: `${spec.task}\n\n[Message from the user, who redirected this task${to ? ` to you (${agent.name})` : ""}] ${message}`,
      },
      overrides,
    );
  }
}

/** A report as the next agent reads it: structured, short, no transcript. */
export function formatReport(title: string, report: AgentReport, tests?: TestVerdict): string {
  const lines = [`${title}:`, `- status: ${report.status}`, `- summary: ${report.summary.trim()}`];
  if (report.filesChanged.length > 0) lines.push(`- files changed: ${report.filesChanged.join(", ")}`);
  if (tests) lines.push(`- tests: ${tests.description}`);
  if (report.notes) lines.push(`- notes: ${report.notes.trim()}`);
  return lines.join("\n");
}

export interface TestVerdict {
  passed: boolean;
  description: string;
  runs: { command: string; exitCode: number }[];
}

/**
 * Whether an agent's tests passed, from what it actually ran (the log), not from what it says: the last
 * run of the project's test command must have exited 0. Without a known test command, the last command
 * the agent ran must have exited 0 and its report must say the tests passed.
 */
export function testVerdict(
  agentId: string,
  events: readonly EntourageEvent[],
  report: AgentReport,
  testCommand: string | undefined,
): TestVerdict {
  const runs = commandRuns(events)
    .filter((r) => r.agentId === agentId)
    .map(({ command, exitCode }) => ({ command, exitCode }));
  const relevant = testCommand ? runs.filter((r) => r.command.includes(testCommand)) : runs;
  const last = relevant.at(-1);
  if (!last) {
    return {
      passed: false,
      runs,
      description: testCommand ? `the test command (${testCommand}) was not run` : "no command was run",
    };
  }
  const passed = last.exitCode === 0 && (testCommand !== undefined || report.testsPassed === true);
  return {
    passed,
    runs,
    description: `${last.command} exited ${last.exitCode}${passed ? " (passed)" : " (failed)"}`,
  };
}

/** A `run_command` call that finished with an exit code, as the log holds it. */
export interface CommandRun {
  seq: number;
  agentId?: string;
  command: string;
  exitCode: number;
  timedOut: boolean;
}

/** Every command the agents ran to completion, in order, with its exit code (the log's, not a model's word). */
export function commandRuns(events: readonly EntourageEvent[]): CommandRun[] {
  const commands = new Map<string, string>();
  const runs: CommandRun[] = [];
  for (const e of events) {
    if (e.type === "tool.call.requested" && e.data.name === "run_command") {
      commands.set(e.data.callId, String((e.data.args as { command?: unknown }).command ?? ""));
    }
    if (e.type === "tool.call.ended" && e.data.name === "run_command" && e.data.exitCode !== undefined) {
      runs.push({
        seq: e.seq,
        agentId: e.agentId,
        command: commands.get(e.data.callId) ?? "",
        exitCode: e.data.exitCode,
        timedOut: e.data.metadata?.timedOut === true,
      });
    }
  }
  return runs;
}

/** The latest plan of the run (proposed, or revised by a person), if any. */
export function latestPlan(
  events: readonly EntourageEvent[],
): { planId: string; plan: EventData<"plan.proposed">["plan"]; approved: boolean } | undefined {
  let current: { planId: string; plan: EventData<"plan.proposed">["plan"]; approved: boolean } | undefined;
  for (const e of events) {
    if (e.type === "plan.proposed") current = { planId: e.data.planId, plan: e.data.plan, approved: false };
    if (e.type === "plan.revised" && current?.planId === e.data.planId)
      current = { ...current, plan: e.data.plan, approved: true };
    if (e.type === "plan.approved" && current?.planId === e.data.planId)
      current = { ...current, approved: true };
  }
  return current;
}

export function formatPlan(plan: EventData<"plan.proposed">["plan"]): string {
  const facts = plan.facts.map((f) => `- ${f}`).join("\n");
  const steps = plan.steps.map((s, i) => `${i + 1}. [${s.owner}] ${s.description}`).join("\n");
  return `Facts:\n${facts || "- (none)"}\nSteps:\n${steps}`;
}
