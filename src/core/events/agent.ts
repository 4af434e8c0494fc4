import { z } from "zod";
import { REPORT_STATUSES } from "../vocabulary.ts";
import { defineEvent } from "./envelope.ts";
import { usageSchema } from "./run.ts";

export const agentReportSchema = z.object({
  status: z.enum(REPORT_STATUSES),
  summary: z.string(),
  filesChanged: z.array(z.string()),
  testsPassed: z.boolean().optional(),
  /** Test commands the agent actually ran, with their exit codes (from the log, not the model's word). */
  testsRun: z.array(z.object({ command: z.string(), exitCode: z.number().int() })).optional(),
  notes: z.string().optional(),
});
export type AgentReport = z.infer<typeof agentReportSchema>;

export const agentStarted = defineEvent("agent.started", () =>
  z.object({
    name: z.string(),
    role: z.string().describe("Short description of the agent's role"),
    task: z.string(),
    model: z.string(),
    tools: z.array(z.string()),
    parentAgentId: z.string().optional(),
    /** Orchestration phase this agent serves, e.g. `analyze`, `implement#2` (pipeline) or a ledger step. */
    phase: z.string().optional(),
  }),
);

/** The orchestrator hands the work from one agent to the next (pipeline) or delegates (dynamic). */
export const agentHandoff = defineEvent("agent.handoff", () =>
  z.object({
    from: z.string().optional().describe("Name of the agent handing over, if any"),
    to: z.string(),
    phase: z.string(),
    reason: z.string(),
  }),
);

export const agentStepStarted = defineEvent("agent.step.started", () =>
  z.object({ step: z.number().int().positive() }),
);

export const agentTextDelta = defineEvent("agent.text.delta", () =>
  z.object({ step: z.number().int(), text: z.string() }),
);

export const agentReasoningDelta = defineEvent("agent.reasoning.delta", () =>
  z.object({ step: z.number().int(), text: z.string() }),
);

export const agentStepEnded = defineEvent("agent.step.ended", () =>
  z.object({
    step: z.number().int().positive(),
    /** The assistant message of this step, exactly as it goes back into the conversation. */
    text: z.string(),
    toolCalls: z.array(z.object({ id: z.string(), name: z.string(), args: z.unknown() })),
    finishReason: z.string(),
    usage: usageSchema,
    costUsd: z.number().optional(),
  }),
);

export const agentFinished = defineEvent("agent.finished", () =>
  z.object({
    name: z.string(),
    report: agentReportSchema,
    reason: z.enum([
      "finish",
      "plan",
      "no_tool_calls",
      "max_steps",
      "budget",
      "loop",
      "redirected",
      "error",
      "cancelled",
    ]),
  }),
);
