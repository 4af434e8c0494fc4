/**
 * The dashboard's types, all taken from the engine's own definitions (type-only imports: nothing of the
 * engine's runtime or zod is bundled). Events are the zod union in src/core/events; the API's shapes are
 * the zod schemas the server validates with and publishes as OpenAPI.
 */
import type { z } from "zod";
import type {
  EntourageEvent,
  EventData,
  EventOf,
  EventType,
  RunState,
  RunStatus,
} from "../../src/core/index.ts";
import type { checkpointDiffResponse } from "../../src/server/routes/checkpoints.ts";
import type {
  decisionBody,
  decisionResponse,
  lessonConflictsError,
  lessonsResponse,
} from "../../src/server/routes/lessons.ts";
import type {
  approvalAnswerBody,
  createRunBody,
  diffResponse,
  forkResponse,
  interventionBody,
  pendingApprovalSchema,
  rewindResponse,
  runDetailSchema,
  runSummarySchema,
} from "../../src/server/schemas.ts";

export type { EntourageEvent, EventData, EventOf, EventType, RunState, RunStatus };
export type RunSummary = z.infer<typeof runSummarySchema>;
export type RunDetail = z.infer<typeof runDetailSchema>;
export type PendingApproval = z.infer<typeof pendingApprovalSchema>;
export type CreateRun = z.input<typeof createRunBody>;
export type ApprovalAnswer = z.input<typeof approvalAnswerBody>;
export type Intervention = z.input<typeof interventionBody>;
export type Diff = z.infer<typeof diffResponse>;
export type CheckpointDiff = z.infer<typeof checkpointDiffResponse>;
export type RewindResult = z.infer<typeof rewindResponse>;
export type ForkResult = z.infer<typeof forkResponse>;
export type Lessons = z.infer<typeof lessonsResponse>;
export type Lesson = Lessons["lessons"][number];
export type LessonDecision = z.input<typeof decisionBody>;
export type LessonDecisionResult = z.infer<typeof decisionResponse>;
export type LessonConflicts = NonNullable<z.infer<typeof lessonConflictsError>["conflicts"]>;

/** The engine's own list (by file: core/index.ts would pull in zod and node:crypto). */
export { RUN_STATUSES } from "../../src/core/vocabulary.ts";
