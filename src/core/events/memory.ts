import { z } from "zod";
import { defineEvent } from "./envelope.ts";

/**
 * Lessons from corrections. A person's correction during a run (a denial with a reason, an edited or
 * sent-back plan, an intervention) becomes, after the run, a proposed lesson; the person accepts, edits or
 * rejects it; an accepted lesson is saved to `.entourage/memory.md` in the repo; later runs on that repo
 * give it to every agent and record that they did.
 */

export const correctionKindSchema = z.enum(["denial", "plan-edit", "plan-sent-back", "intervention"]);

/** Fields added after format v1 are optional, so v1 logs stay readable. */
export const lessonProposed = defineEvent("lesson.proposed", () =>
  z.object({
    lessonId: z.string(),
    text: z.string(),
    sourceSeq: z.number().int().describe("The event of the correction the lesson came from"),
    correction: z
      .object({ kind: correctionKindSchema, text: z.string().describe("What the person said or did") })
      .optional(),
    drafted: z
      .enum(["model", "quoted"])
      .optional()
      .describe("model: drafted by the run's model; quoted: the correction's own words, no model involved"),
    note: z.string().optional().describe("Why the lesson was quoted rather than drafted, if it was"),
  }),
);

/** The model found nothing general to learn from a correction (it answered "none"). */
export const lessonSkipped = defineEvent("lesson.skipped", () =>
  z.object({ sourceSeq: z.number().int(), reason: z.string() }),
);

/** A person's decision on a proposed lesson. `edited` carries the text they kept. */
export const lessonDecided = defineEvent("lesson.decided", () =>
  z.object({
    lessonId: z.string(),
    decision: z.enum(["accepted", "edited", "rejected"]),
    by: z.string().describe("cli, api, dashboard"),
    text: z.string().optional().describe("The edited text (decision edited)"),
    reason: z.string().optional(),
    replace: z.array(z.string()).optional().describe("Lessons in memory.md this one replaces"),
  }),
);

export const lessonSaved = defineEvent("lesson.saved", () =>
  z.object({
    lessonId: z.string(),
    text: z.string(),
    file: z.string(),
    replaced: z.array(z.string()).optional(),
    savedAs: z.string().optional().describe("The lesson's id in memory.md, when it differs from lessonId"),
  }),
);

/** The lessons a run gives its agents (in `run.created.data.projectContext`), recorded when it starts. */
export const lessonUsed = defineEvent("lesson.used", () =>
  z.object({ lessonIds: z.array(z.string()), file: z.string() }),
);
