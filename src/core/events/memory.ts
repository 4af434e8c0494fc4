import { z } from "zod";
import { defineEvent } from "./envelope.ts";

export const lessonProposed = defineEvent(
  "lesson.proposed",
  z.object({ lessonId: z.string(), text: z.string(), sourceSeq: z.number().int() }),
);

export const lessonSaved = defineEvent(
  "lesson.saved",
  z.object({ lessonId: z.string(), text: z.string(), file: z.string() }),
);
