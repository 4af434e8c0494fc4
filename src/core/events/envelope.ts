import { z } from "zod";

/** Version of the persisted event format. Bump on a breaking change; keep a fixture per version. */
export const EVENT_FORMAT_VERSION = 1;

/** Fields every event carries, whatever its type. `seq` is gap-free per run and is the SSE id. */
export const envelopeFields = {
  id: z.string().describe("Globally unique event id"),
  runId: z.string().describe("Run this event belongs to"),
  seq: z.number().int().nonnegative().describe("Gap-free position in the run, from 0"),
  time: z.number().describe("Milliseconds since the epoch when the event was written"),
  v: z.number().int().positive().describe("Persisted format version"),
  agentId: z.string().optional().describe("Agent that emitted the event, if any"),
  parentId: z.string().optional().describe("Event this one follows from (e.g. a tool call's request)"),
};

/** Declares one event type: its `type` literal and its `data` schema. */
export function defineEvent<T extends string, D extends z.ZodType>(type: T, data: D) {
  return z.object({ ...envelopeFields, type: z.literal(type), data });
}

/** The shape the store persists without knowing each type's data. */
export const rawEventSchema = z.object({ ...envelopeFields, type: z.string(), data: z.unknown() });
export type RawEvent = z.infer<typeof rawEventSchema>;
