import { z } from "zod";
import { defineEvent } from "./envelope.ts";

export const planStepSchema = z.object({
  id: z.string(),
  description: z.string(),
  owner: z.string().describe("Agent name responsible for the step"),
  status: z.enum(["pending", "in_progress", "done", "skipped"]).default("pending"),
});

export const planSchema = z.object({
  facts: z.array(z.string()),
  steps: z.array(planStepSchema),
});

export const planProposed = defineEvent("plan.proposed", () =>
  z.object({ planId: z.string(), plan: planSchema }),
);
export const planApproved = defineEvent("plan.approved", () =>
  z.object({ planId: z.string(), by: z.string() }),
);
export const planRevised = defineEvent("plan.revised", () =>
  z.object({ planId: z.string(), plan: planSchema, by: z.string(), reason: z.string().optional() }),
);

/** The planner's progress ledger (dynamic mode): is the task done, progressing, stuck, and who goes next. */
export const ledgerUpdated = defineEvent("ledger.updated", () =>
  z.object({
    done: z.boolean(),
    progressing: z.boolean(),
    stuck: z.boolean(),
    next: z.string().optional().describe("Agent that should act next, if any"),
    note: z.string(),
  }),
);
