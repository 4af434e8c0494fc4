import { z } from "zod";
import { defineEvent } from "./envelope.ts";
import { usageSchema } from "./run.ts";

export const llmRequest = defineEvent("llm.request", () =>
  z.object({
    provider: z.string(),
    model: z.string(),
    step: z.number().int(),
    attempt: z.number().int().positive(),
    messages: z.number().int().describe("Number of messages sent"),
    estimatedInputTokens: z.number().int(),
    prefixHash: z
      .string()
      .describe("Hash of system prompt + tool list; stable across steps for prompt caching"),
  }),
);

export const llmResponse = defineEvent("llm.response", () =>
  z.object({
    step: z.number().int(),
    usage: usageSchema,
    costUsd: z.number().optional(),
    latencyMs: z.number(),
    firstTokenMs: z.number().optional(),
    finishReason: z.string(),
  }),
);

export const llmRetry = defineEvent("llm.retry", () =>
  z.object({
    step: z.number().int(),
    attempt: z.number().int().positive().describe("The attempt that failed"),
    delayMs: z.number(),
    reason: z.string(),
    status: z.number().int().optional(),
  }),
);
