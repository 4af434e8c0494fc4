import { z } from "zod";
import * as agent from "./agent.ts";
import * as check from "./check.ts";
import * as control from "./control.ts";
import type { EventDefinition } from "./envelope.ts";
import * as extension from "./extension.ts";
import * as llm from "./llm.ts";
import * as memory from "./memory.ts";
import * as plan from "./plan.ts";
import * as run from "./run.ts";
import * as tool from "./tool.ts";
import * as workspace from "./workspace.ts";

export * from "./agent.ts";
export * from "./check.ts";
export * from "./control.ts";
export * from "./envelope.ts";
export * from "./extension.ts";
export * from "./llm.ts";
export * from "./memory.ts";
export * from "./plan.ts";
export * from "./run.ts";
export * from "./tool.ts";
export * from "./workspace.ts";

/** Every event type, one definition each. The store, the SSE stream, OpenAPI and the dashboard read this. */
export const eventDefinitions = [
  run.runCreated,
  run.runStatus,
  run.runFinished,
  run.runAttached,
  run.runRouted,
  run.modelChanged,
  run.runReopened,
  extension.extensionLoaded,
  extension.extensionFailed,
  plan.planProposed,
  plan.planApproved,
  plan.planRevised,
  plan.ledgerUpdated,
  agent.agentStarted,
  agent.agentHandoff,
  agent.agentStepStarted,
  agent.agentTextDelta,
  agent.agentReasoningDelta,
  agent.agentStepEnded,
  agent.agentFinished,
  llm.llmRequest,
  llm.llmResponse,
  llm.llmRetry,
  tool.toolCallRequested,
  tool.toolCallStarted,
  tool.toolOutputDelta,
  tool.toolCallEnded,
  control.approvalRequested,
  control.approvalResolved,
  control.interventionReceived,
  control.interventionDelivered,
  control.runPaused,
  control.runResumed,
  control.runForked,
  control.loopDetected,
  control.steerRequested,
  control.steerHandled,
  control.protocolFallback,
  check.setupStarted,
  check.setupEnded,
  check.verificationStarted,
  check.verificationEnded,
  workspace.checkpointCreated,
  workspace.workspaceRestored,
  workspace.diffReady,
  workspace.diffApplied,
  workspace.workspaceMerged,
  workspace.quotaExceeded,
  memory.lessonProposed,
  memory.lessonSkipped,
  memory.lessonDecided,
  memory.lessonSaved,
  memory.lessonUsed,
] as const;

type Definitions = typeof eventDefinitions;
type SchemaOf<D> = D extends { readonly schema: infer S } ? S : never;
type Schemas = { -readonly [K in keyof Definitions]: SchemaOf<Definitions[K]> };

type EventUnion = z.ZodDiscriminatedUnion<Schemas, "type">;
let union: EventUnion | undefined;
/** The union of every event type's schema (OpenAPI, the dashboard's types): made on first use. */
export function eventSchema(): EventUnion {
  union ??= z.discriminatedUnion(
    "type",
    eventDefinitions.map((d) => d.schema) as never,
  ) as unknown as EventUnion;
  return union;
}

export type EntourageEvent = z.infer<Schemas[number]>;
export type EventType = EntourageEvent["type"];
export type EventOf<T extends EventType> = Extract<EntourageEvent, { type: T }>;
export type EventData<T extends EventType> = EventOf<T>["data"];

/** What the engine hands to the store: the envelope fields the store assigns are left out. */
export type NewEvent = {
  [T in EventType]: { type: T; data: EventData<T>; agentId?: string; parentId?: string };
}[EventType];

export const eventTypes: readonly EventType[] = eventDefinitions.map((d) => d.type);

const byType = new Map<string, EventDefinition>(eventDefinitions.map((d) => [d.type, d]));

/**
 * The schema for `value`'s type, as the union would choose it; the union itself for a value it would
 * reject by its type (missing, unknown), so the error is the union's.
 */
function schemaFor(value: unknown): z.ZodType {
  const type = typeof value === "object" && value !== null ? (value as { type?: unknown }).type : undefined;
  return (typeof type === "string" && byType.get(type)?.schema) || eventSchema();
}

/** Parses an event read from storage or the wire; throws a zod error naming the field on bad input. */
export function parseEvent(value: unknown): EntourageEvent {
  return schemaFor(value).parse(value) as EntourageEvent;
}

/** `parseEvent` without throwing: zod's result. */
export function safeParseEvent(value: unknown): z.ZodSafeParseResult<EntourageEvent> {
  return schemaFor(value).safeParse(value) as z.ZodSafeParseResult<EntourageEvent>;
}
