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

function eventObject<T extends string, D extends z.ZodType>(type: T, data: D) {
  return z.object({ ...envelopeFields, type: z.literal(type), data });
}

/** One event type: its `type` literal, and the schema of the whole event (envelope, type and data). */
export interface EventDefinition<T extends string = string, D extends z.ZodType = z.ZodType> {
  readonly type: T;
  readonly schema: ReturnType<typeof eventObject<T, D>>;
}

/**
 * Declares one event type: its `type` literal and (a function making) its `data` schema. The schema is made
 * on first use: zod builds a few hundred objects for the 53 types, ~10 ms of every command's start, and a
 * command that reads a run's log meets a dozen of them.
 */
export function defineEvent<T extends string, D extends z.ZodType>(
  type: T,
  data: () => D,
): EventDefinition<T, D> {
  let schema: ReturnType<typeof eventObject<T, D>> | undefined;
  return {
    type,
    get schema() {
      schema ??= eventObject(type, data());
      return schema;
    },
  };
}

/** The shape the store persists without knowing each type's data. */
export const rawEventSchema = z.object({ ...envelopeFields, type: z.string(), data: z.unknown() });
export type RawEvent = z.infer<typeof rawEventSchema>;
