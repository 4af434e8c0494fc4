import { z } from "zod";
import * as agent from "./agent.ts";
import * as check from "./check.ts";
import * as control from "./control.ts";
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

/** Every event type, one schema each. The store, the SSE stream, OpenAPI and the dashboard read this. */
export const eventSchemas = [
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

export const eventSchema = z.discriminatedUnion("type", eventSchemas);
export type EntourageEvent = z.infer<typeof eventSchema>;
export type EventType = EntourageEvent["type"];
export type EventOf<T extends EventType> = Extract<EntourageEvent, { type: T }>;
export type EventData<T extends EventType> = EventOf<T>["data"];

/** What the engine hands to the store: the envelope fields the store assigns are left out. */
export type NewEvent = {
  [T in EventType]: { type: T; data: EventData<T>; agentId?: string; parentId?: string };
}[EventType];

export const eventTypes: readonly EventType[] = eventSchemas.map((s) => s.shape.type.value);

/** Parses an event read from storage or the wire; throws a zod error naming the field on bad input. */
export function parseEvent(value: unknown): EntourageEvent {
  return eventSchema.parse(value);
}
