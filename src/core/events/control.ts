import { z } from "zod";
import { APPROVAL_DECISIONS } from "../vocabulary.ts";
import { defineEvent } from "./envelope.ts";
import { riskSchema } from "./tool.ts";

export const approvalRequested = defineEvent("approval.requested", () =>
  z.object({
    approvalId: z.string(),
    callId: z.string().optional(),
    tool: z.string(),
    args: z.unknown(),
    risk: riskSchema,
    reason: z.string().describe("Why approval is needed (which rule or mode asked)"),
  }),
);

export const approvalResolved = defineEvent("approval.resolved", () =>
  z.object({
    approvalId: z.string(),
    decision: z.enum(APPROVAL_DECISIONS),
    by: z.string().describe("cli, api, dashboard, rule, timeout, --yes"),
    reason: z.string().optional(),
    editedArgs: z.unknown().optional(),
    ruleLearned: z.string().optional(),
  }),
);

export const interventionReceived = defineEvent("intervention.received", () =>
  z.object({
    interventionId: z.string(),
    message: z.string(),
    targetAgentId: z.string().optional(),
    interrupt: z.boolean(),
    /**
     * Redirect: the agent this reaches stops, and its phase starts over with the message — by the agent
     * named in `to`, or by the same kind of agent when `to` is absent (restart the phase).
     */
    redirect: z.object({ to: z.string().optional() }).optional(),
    by: z.string(),
  }),
);

export const interventionDelivered = defineEvent("intervention.delivered", () =>
  z.object({ interventionId: z.string(), agentId: z.string(), step: z.number().int() }),
);

export const runPaused = defineEvent("run.paused", () =>
  z.object({ by: z.string(), reason: z.string().optional() }),
);
export const runResumed = defineEvent("run.resumed", () => z.object({ by: z.string() }));
export const runForked = defineEvent("run.forked", () =>
  z.object({ newRunId: z.string(), atSeq: z.number().int(), guidance: z.string().optional() }),
);

/** A safety detector fired: the same call repeated, or no progress for N steps. */
export const loopDetected = defineEvent("loop.detected", () =>
  z.object({
    kind: z.enum(["repeated_call", "no_progress"]),
    detail: z.string(),
    action: z.enum(["warned", "stopped"]),
    /** What the agent is told (a user message in its conversation) when it is warned. */
    message: z.string().optional(),
  }),
);

/**
 * A model did not follow the protocol and the orchestrator took the fallback a person would accept: a plan
 * answered in text is the plan, a report in text is the report, an agent that acted on nothing is nudged once.
 */
export const protocolFallback = defineEvent("protocol.fallback", () =>
  z.object({
    kind: z.enum(["plan_from_text", "plan_from_analysis", "report_from_text", "nudged"]),
    detail: z.string(),
    /** The instruction the agent received, for a nudge. */
    message: z.string().optional(),
  }),
);

/**
 * A person's act on a run that another process drives (`entourage serve` steering a worker's run, or any
 * server steering an `entourage run`): appended to the run's log by the process that received it, acted on
 * by the driver, which answers with `steer.handled`. The acts themselves are logged as usual
 * (approval.resolved, intervention.received, run.paused…); this pair is the delivery.
 */
export const steerRequested = defineEvent("steer.requested", () =>
  z.object({
    requestId: z.string(),
    by: z.string(),
    act: z.discriminatedUnion("kind", [
      z.object({
        kind: z.literal("answer"),
        approvalId: z.string(),
        decision: z.enum(APPROVAL_DECISIONS),
        reason: z.string().optional(),
        editedArgs: z.unknown().optional(),
        /** "Always allow": the rule to learn, already derived from the request by the receiving process. */
        rule: z
          .object({
            action: z.literal("allow"),
            tool: z.string(),
            match: z.string().optional(),
            risk: riskSchema.optional(),
          })
          .optional(),
      }),
      z.object({
        kind: z.literal("intervene"),
        message: z.string(),
        targetAgentId: z.string().optional(),
        interrupt: z.boolean().optional(),
        redirect: z.object({ to: z.string().optional() }).optional(),
      }),
      z.object({ kind: z.literal("pause"), reason: z.string().optional() }),
      z.object({ kind: z.literal("resume") }),
      z.object({ kind: z.literal("cancel"), reason: z.string().optional() }),
    ]),
  }),
);

/** The driver's answer to a `steer.requested`: done (with what it produced), or refused with the reason. */
export const steerHandled = defineEvent("steer.handled", () =>
  z.object({
    requestId: z.string(),
    ok: z.boolean(),
    interventionId: z.string().optional(),
    error: z.object({ code: z.string(), message: z.string() }).optional(),
  }),
);
