/**
 * At least one event of every type, with the variants that read differently (a pass and a failure, a
 * redirect and an interrupt…), in an order a run could log them. The type makes a new event type without a
 * sample a compile error; the describe-event, terminal and dashboard tests all fold these same events.
 */
import type { EntourageEvent, EventData, EventType } from "../../src/core/index.ts";

export const RUN = "run_abc";
export const A = "agt_impl";
export const B = "agt_test";

type Sample<T extends EventType> = { data: EventData<T>; agentId?: string; time?: number };

const created: EventData<"run.created"> = {
  task: "Fix the failing tests in src/date.js",
  repo: "/home/u/dates",
  workspace: "/home/u/.entourage/runs/run_abc/workspace",
  mode: "pipeline",
  model: { provider: "scripted", model: "demo-fix-date", scripted: true },
  sandbox: { backend: "subprocess", isolated: false, network: "off", warning: "commands run as you" },
  budget: { maxSteps: 10 },
  approval: "ask-risky",
  leftOut: [
    { path: "vendor/nested", reason: "nested git repository" },
    { path: "tools/other", reason: "nested git repository" },
  ],
  leftOutCount: 3,
};

export const SAMPLES: { [T in EventType]: Sample<T>[] } = {
  "run.created": [{ data: created, time: 10_000 }],
  "run.attached": [
    { data: { pid: 41, resumed: false } },
    { data: { pid: 42, resumed: true, tookOverFrom: { pid: 41, host: "box", label: "pid 41 on box" } } },
  ],
  "run.status": [
    { data: { status: "running" } },
    { data: { status: "paused", reason: "interrupted; continue with: entourage resume run_abc" } },
  ],
  "extension.loaded": [
    {
      data: {
        kind: "mcp",
        name: "notes",
        source: "mcpServers.notes",
        tools: ["notes__add"],
        note: "risk execute",
      },
    },
    { data: { kind: "instructions", name: "AGENTS.md", source: "/home/u/dates/AGENTS.md" } },
  ],
  "extension.failed": [
    {
      data: {
        kind: "mcp",
        name: "x",
        source: "mcpServers.x",
        message: 'MCP server "x" failed.\nstderr line',
      },
    },
  ],
  "lesson.used": [{ data: { lessonIds: ["l_1", "l_2"], file: ".entourage/memory.md" } }],
  "run.routed": [
    { data: { route: "change", reason: 'the request asks for a change ("fix")' } },
    { data: { route: "answer", reason: 'the request only asks to look ("list")' } },
  ],
  "model.changed": [
    {
      data: {
        from: { provider: "ollama", model: "qwen" },
        to: { provider: "openai", model: "gpt-5" },
        by: "cli",
        reason: "resume --model gpt-5",
      },
    },
  ],
  "setup.started": [{ data: { command: "npm ci", network: "on" } }],
  "setup.ended": [
    {
      data: {
        command: "npm ci",
        exitCode: 0,
        timedOut: false,
        durationMs: 1_200,
        output: "added 3 packages",
      },
    },
    { data: { command: "npm ci", exitCode: 1, timedOut: false, durationMs: 300, output: "npm ERR! oops" } },
  ],
  "agent.started": [
    {
      agentId: A,
      data: { name: "implementer", role: "Changes the code.", task: "Fix it", model: "m", tools: [] },
    },
    {
      agentId: B,
      data: {
        name: "tester",
        role: "Runs the tests.",
        task: "Test it",
        model: "m",
        tools: [],
        phase: "test",
      },
    },
  ],
  "agent.handoff": [
    { data: { from: "analyzer", to: "implementer", phase: "implement", reason: "the plan is ready" } },
  ],
  "plan.proposed": [
    {
      agentId: A,
      data: {
        planId: "p1",
        plan: {
          facts: [],
          steps: [
            { id: "s1", description: "Pad the month", owner: "implementer", status: "pending" },
            { id: "s2", description: "Run the tests", owner: "tester", status: "pending" },
          ],
        },
      },
    },
  ],
  "plan.revised": [
    {
      data: {
        planId: "p1",
        by: "cli",
        reason: "test the day too",
        plan: {
          facts: [],
          steps: [{ id: "s1", description: "Pad month and day", owner: "implementer", status: "pending" }],
        },
      },
    },
  ],
  "plan.approved": [{ data: { planId: "p1", by: "cli" } }],
  "ledger.updated": [
    { data: { done: false, progressing: true, stuck: false, next: "tester", note: "the fix is in" } },
    { data: { done: false, progressing: false, stuck: true, note: "the same edit twice" } },
  ],
  "agent.step.started": [{ agentId: A, data: { step: 1 } }],
  "llm.request": [
    {
      agentId: A,
      data: {
        provider: "scripted",
        model: "demo-fix-date",
        step: 1,
        attempt: 1,
        messages: 2,
        estimatedInputTokens: 1_400,
        prefixHash: "abc",
      },
    },
  ],
  "llm.retry": [
    {
      agentId: A,
      data: { step: 1, attempt: 1, delayMs: 2_000, reason: "HTTP 429 rate limited", status: 429 },
    },
  ],
  "agent.reasoning.delta": [{ agentId: A, data: { step: 1, text: "The month is 0-based." } }],
  "agent.text.delta": [
    { agentId: A, data: { step: 1, text: "Let me " } },
    { agentId: A, data: { step: 1, text: "run the tests." } },
  ],
  "llm.response": [
    {
      agentId: A,
      data: {
        step: 1,
        usage: { inputTokens: 1_500, outputTokens: 200 },
        costUsd: 0.02,
        latencyMs: 10,
        finishReason: "tool-calls",
      },
    },
  ],
  "agent.step.ended": [
    {
      agentId: A,
      data: {
        step: 1,
        text: "Let me run the tests.",
        toolCalls: [{ id: "c1", name: "run_command", args: { command: "npm test" } }],
        finishReason: "tool-calls",
        usage: { inputTokens: 1_500, outputTokens: 200 },
        costUsd: 0.02,
      },
    },
  ],
  "tool.call.requested": [
    {
      agentId: A,
      data: { callId: "c1", name: "run_command", args: { command: "npm test" }, risk: "execute", step: 1 },
    },
  ],
  "approval.requested": [
    {
      agentId: A,
      data: {
        approvalId: "ap1",
        callId: "c1",
        tool: "run_command",
        args: { command: "npm test" },
        risk: "execute",
        reason: "run_command is execute (ask-risky)",
      },
    },
  ],
  "approval.resolved": [
    {
      data: {
        approvalId: "ap1",
        decision: "approve",
        by: "cli",
        ruleLearned: 'run_command "npm test" → allow',
      },
    },
    { data: { approvalId: "ap2", decision: "deny", by: "dashboard", reason: "not on my machine" } },
  ],
  "tool.call.started": [{ agentId: A, data: { callId: "c1", name: "run_command" } }],
  "tool.output.delta": [
    { agentId: A, data: { callId: "c1", stream: "stdout", text: "ok 1\nok 2\n" } },
    { agentId: A, data: { callId: "c1", stream: "stderr", text: "warn\n" } },
  ],
  "quota.exceeded": [
    {
      agentId: A,
      data: {
        callId: "c1",
        command: "dd if=/dev/zero of=x",
        usedBytes: 25 << 20,
        limitBytes: 20 << 20,
        stopped: true,
      },
    },
  ],
  "tool.call.ended": [
    {
      agentId: A,
      data: {
        callId: "c1",
        name: "run_command",
        output: "ok 1\nok 2",
        isError: false,
        durationMs: 1_500,
        exitCode: 0,
      },
    },
    {
      agentId: A,
      data: {
        callId: "c2",
        name: "nope",
        output: 'Unknown tool "nope". Available tools: read_file.',
        isError: true,
        durationMs: 0,
        skipped: "unknown_tool",
      },
    },
  ],
  "checkpoint.created": [
    { agentId: A, data: { ref: "1a2b3c4d5e6f", label: "edit_file (step 2)", filesChanged: ["src/date.js"] } },
  ],
  "intervention.received": [
    { data: { interventionId: "i1", message: "Mind the time zone", interrupt: false, by: "api" } },
    { data: { interventionId: "i2", message: "Stop", interrupt: true, by: "dashboard", targetAgentId: A } },
    {
      data: {
        interventionId: "i3",
        message: "Let the tester try",
        interrupt: false,
        by: "cli",
        redirect: { to: "tester" },
      },
    },
  ],
  "intervention.delivered": [{ data: { interventionId: "i1", agentId: A, step: 2 } }],
  "loop.detected": [
    { agentId: A, data: { kind: "repeated_call", detail: "read_file src/a.js 3 times", action: "warned" } },
    { agentId: A, data: { kind: "no_progress", detail: "8 steps without a change", action: "stopped" } },
  ],
  "protocol.fallback": [
    {
      agentId: A,
      data: {
        kind: "nudged",
        detail: "the agent answered before using any tool",
        message: "Use your tools, then call finish.",
      },
    },
  ],
  "run.paused": [{ data: { by: "api", reason: "lunch" } }],
  "run.resumed": [{ data: { by: "api" } }],
  "workspace.restored": [
    { data: { ref: "9f8e7d6c5b4a", toSeq: 12, reason: "rewound by the user to event 12" } },
  ],
  "workspace.merged": [
    { data: { fromAgentId: B, base: "b1", ref: "r1", merged: ["src/a.js"], conflicts: [] } },
    {
      data: {
        fromAgentId: B,
        base: "b1",
        merged: ["src/a.js"],
        conflicts: [{ path: "src/b.js", reason: "both changed", ours: "x", theirs: "y", base: "z" }],
      },
    },
  ],
  "agent.finished": [
    {
      agentId: B,
      data: {
        name: "tester",
        reason: "finish",
        report: { status: "failed", summary: "2 tests fail", filesChanged: [], testsPassed: false },
      },
    },
    {
      agentId: A,
      data: {
        name: "implementer",
        reason: "finish",
        report: { status: "done", summary: "Padded the month", filesChanged: ["src/date.js"] },
      },
    },
  ],
  "verification.started": [{ data: { command: "npm test", source: "package.json scripts.test" } }],
  "verification.ended": [
    {
      data: {
        status: "passed",
        reason: "npm test exited 0 on the final workspace (event 40)",
        reusedSeq: 40,
      },
    },
    { data: { status: "failed", reason: "npm test exited 1", output: "1 failing" } },
    { data: { status: "not_verified", reason: "verification is turned off (--no-verify)" } },
  ],
  "diff.ready": [
    {
      data: {
        baseRef: "b",
        headRef: "h",
        files: [
          { path: "src/date.js", status: "modified" },
          { path: "caf\udce9.txt", status: "added" },
        ],
        insertions: 3,
        deletions: 1,
      },
    },
    { data: { baseRef: "b", headRef: "b", files: [], insertions: 0, deletions: 0 } },
  ],
  "steer.requested": [
    { data: { requestId: "req_1", by: "dashboard", act: { kind: "pause", reason: "lunch" } } },
    {
      data: {
        requestId: "req_2",
        by: "api",
        act: { kind: "answer", approvalId: "appr_1", decision: "deny", reason: "not on main" },
      },
    },
  ],
  "steer.handled": [
    { data: { requestId: "req_1", ok: true } },
    {
      data: {
        requestId: "req_2",
        ok: false,
        error: {
          code: "approval_answered",
          message: "Approval appr_1 was already answered (approve by cli).",
        },
      },
    },
  ],
  "run.forked": [{ data: { newRunId: "run_def", atSeq: 12, guidance: "try the other fix" } }],
  "run.reopened": [{ data: { request: "Also handle leap years", by: "acp" } }],
  "run.finished": [
    { data: { status: "succeeded", summary: "Fixed the parser.\nAll 12 tests pass." }, time: 14_200 },
  ],
  "lesson.proposed": [
    { data: { lessonId: "l_3", text: "Run npm test before finishing.", sourceSeq: 7, drafted: "model" } },
  ],
  "lesson.skipped": [{ data: { sourceSeq: 9, reason: "nothing general to learn" } }],
  "lesson.decided": [{ data: { lessonId: "l_3", decision: "accepted", by: "cli" } }],
  "lesson.saved": [
    { data: { lessonId: "l_3", text: "Run npm test before finishing.", file: ".entourage/memory.md" } },
  ],
  "diff.applied": [{ data: { target: "/home/u/dates", files: ["src/date.js"], headRef: "h" } }],
};

/** Every sample as a stored event, in the order above: seq from 0, time 1000 + seq unless given. */
export function sampleLog(): EntourageEvent[] {
  const events: EntourageEvent[] = [];
  for (const [type, samples] of Object.entries(SAMPLES)) {
    for (const { data, agentId, time } of samples as Sample<EventType>[]) {
      const seq = events.length;
      events.push({
        id: `evt_${seq}`,
        runId: RUN,
        seq,
        v: 1,
        time: time ?? 10_000 + seq,
        type,
        data,
        agentId,
      } as EntourageEvent);
    }
  }
  return events;
}
