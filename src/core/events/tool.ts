import { z } from "zod";
import { RISKS } from "../vocabulary.ts";
import { defineEvent } from "./envelope.ts";

export const riskSchema = z.enum(RISKS);

export const toolCallRequested = defineEvent("tool.call.requested", () =>
  z.object({
    callId: z.string(),
    name: z.string(),
    args: z.unknown(),
    risk: riskSchema,
    step: z.number().int(),
  }),
);

export const toolCallStarted = defineEvent("tool.call.started", () =>
  z.object({ callId: z.string(), name: z.string() }),
);

export const toolOutputDelta = defineEvent("tool.output.delta", () =>
  z.object({ callId: z.string(), stream: z.enum(["stdout", "stderr"]), text: z.string() }),
);

export const toolCallEnded = defineEvent("tool.call.ended", () =>
  z.object({
    callId: z.string(),
    name: z.string(),
    /** The text the model receives (already truncated). */
    output: z.string(),
    isError: z.boolean(),
    durationMs: z.number(),
    exitCode: z.number().int().optional(),
    metadata: z.record(z.string(), z.unknown()).optional(),
    /** Set when the call never ran: denied, invalid input, interrupted by a crash. */
    skipped: z.enum(["denied", "invalid", "interrupted", "unknown_tool", "not_allowed"]).optional(),
  }),
);
