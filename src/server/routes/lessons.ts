import { createRoute, z } from "@hono/zod-openapi";
import { correctionKindSchema, createdData, UserError } from "../../core/index.ts";
import { conflictsIn, decideLesson, memoryPath, proposalsOf } from "../../memory/index.ts";
import { errorSchema } from "../schemas.ts";
import type { App, RouteContext } from "./context.ts";

/**
 * The lessons a run proposed from the person's corrections, and the decision on each (the API's side of
 * `entourage memory review`). Accepting writes `.entourage/memory.md` in the run's repo — the user's
 * checkout — so it happens only on an explicit POST, and a clash with a saved lesson is refused (409,
 * naming it) until the request says what to do about it.
 */

const idPattern = /^[A-Za-z0-9_-]{1,128}$/;
const lessonParams = z.object({
  id: z.string().regex(idPattern, "must be a run id"),
  lessonId: z.string().regex(idPattern, "must be a lesson id, e.g. l_ab12"),
});
const runParams = z.object({ id: z.string().regex(idPattern, "must be a run id") });

const savedLesson = z.object({ id: z.string(), text: z.string() });
const lessonSchema = z
  .object({
    lessonId: z.string(),
    text: z.string().describe("The proposed text"),
    sourceSeq: z.number().int().describe("The event of the correction it came from"),
    correction: z.object({ kind: correctionKindSchema, text: z.string() }).optional(),
    drafted: z.enum(["model", "quoted"]).optional().describe("quoted: the correction's words, no model"),
    note: z.string().optional(),
    status: z.enum(["pending", "accepted", "edited", "rejected"]),
    decidedText: z.string().optional(),
    saved: z.boolean(),
    conflicts: z
      .object({ duplicates: z.array(savedLesson), contradictions: z.array(savedLesson) })
      .optional()
      .describe("For a pending lesson: saved lessons it duplicates or may contradict"),
  })
  .meta({ id: "Lesson" });
export const lessonsResponse = z.object({
  runId: z.string(),
  file: z.string().describe("The repo's memory.md, where accepted lessons go"),
  lessons: z.array(lessonSchema),
});
export const decisionBody = z
  .object({
    decision: z.enum(["accepted", "edited", "rejected"]),
    text: z.string().min(1).max(500).optional().describe("The lesson as you want it saved (decision edited)"),
    force: z.boolean().optional().describe("Save it even though it duplicates a saved lesson"),
    keepBoth: z.boolean().optional().describe("Keep it next to saved lessons it may contradict"),
    replace: z.array(z.string()).optional().describe("Saved lessons to remove in the same write"),
  })
  .meta({ id: "LessonDecision" });
export const decisionResponse = z.object({
  lessonId: z.string(),
  decision: z.enum(["accepted", "edited", "rejected"]),
  saved: z.object({ lessonId: z.string(), file: z.string(), replaced: z.array(z.string()) }).optional(),
});

/** 409 lesson_conflicts: the usual error, plus the saved lessons still in the way (for the dashboard). */
export const lessonConflictsError = errorSchema.extend({
  conflicts: z
    .object({ duplicates: z.array(savedLesson), contradictions: z.array(savedLesson) })
    .optional()
    .describe("With lesson_conflicts: the saved lessons it duplicates or may contradict"),
});

const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { "application/json": { schema } },
});
const err = (description: string) => json(errorSchema, description);

async function runRepo(ctx: RouteContext, runId: string) {
  const events = await ctx.store.read(runId);
  return { events, repo: createdData(runId, events, "GET /runs").repo };
}

const brief = (l: { id: string; text: string }) => ({ id: l.id, text: l.text });

export function lessonRoutes(app: App, ctx: RouteContext): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/runs/{id}/lessons",
      summary: "The lessons a run proposed from your corrections, with their status",
      request: { params: runParams },
      responses: { 200: json(lessonsResponse, "The run's lessons"), 404: err("No such run") },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const { events, repo } = await runRepo(ctx, id);
      const lessons = proposalsOf(events).map((p) => {
        if (p.status !== "pending") return p;
        const conflicts = conflictsIn(repo, p.text);
        return {
          ...p,
          conflicts: {
            duplicates: conflicts.duplicates.map(brief),
            contradictions: conflicts.contradictions.map(brief),
          },
        };
      });
      return c.json({ runId: id, file: memoryPath(repo), lessons }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/runs/{id}/lessons/{lessonId}",
      summary: "Accept, edit or reject a proposed lesson; a kept one is written to the repo's memory.md",
      description:
        "A lesson that duplicates or may contradict a saved one is refused with 409 lesson_conflicts naming " +
        "them, until the request says force (duplicate), keepBoth or replace (contradiction).",
      request: {
        params: lessonParams,
        body: { required: true, content: { "application/json": { schema: decisionBody } } },
      },
      responses: {
        200: json(decisionResponse, "Decided (and saved, unless rejected)"),
        400: err("Invalid decision (e.g. edited without text)"),
        404: err("No such run or lesson"),
        409: json(lessonConflictsError, "Already decided, or it clashes with a saved lesson"),
      },
    }),
    async (c) => {
      const { id, lessonId } = c.req.valid("param");
      const body = c.req.valid("json");
      const { repo } = await runRepo(ctx, id);
      if (body.decision === "edited" && body.text === undefined)
        throw new UserError("invalid_request", "body.text: required when decision is edited");
      if (body.decision !== "rejected") {
        const proposal = proposalsOf((await runRepo(ctx, id)).events).find((p) => p.lessonId === lessonId);
        const text = body.decision === "edited" ? body.text! : (proposal?.text ?? "");
        const conflicts = conflictsIn(repo, text);
        const duplicates = body.force ? [] : conflicts.duplicates;
        const contradictions = body.keepBoth || body.replace ? [] : conflicts.contradictions;
        const clashes = [
          ...duplicates.map((l) => `it duplicates ${l.id} "${l.text}" (force: true saves it anyway)`),
          ...contradictions.map(
            (l) => `it may contradict ${l.id} "${l.text}" (keepBoth: true, or replace: ["${l.id}"])`,
          ),
        ];
        if (proposal?.status === "pending" && clashes.length > 0)
          return c.json(
            {
              error: { code: "lesson_conflicts", message: `Not saved: ${clashes.join("; ")}.` },
              conflicts: { duplicates: duplicates.map(brief), contradictions: contradictions.map(brief) },
            },
            409,
          );
      }
      const result = await decideLesson(ctx.store, id, {
        lessonId,
        decision: body.decision,
        text: body.text,
        by: "api",
        replace: body.replace,
      });
      return c.json({ lessonId, decision: body.decision, saved: result.saved }, 200);
    },
  );
}
