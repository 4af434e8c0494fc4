import { relative } from "node:path";
import { type Lesson, lessonsOf, readMemory } from "./memory-file.ts";

/** The lessons as the project context gives them to every agent: one bullet each. */
export function lessonBullets(lessons: readonly Pick<Lesson, "text">[]): string | undefined {
  if (lessons.length === 0) return undefined;
  return lessons.map((l) => `- ${l.text}`).join("\n");
}

/**
 * The repo's saved lessons for a new run: the bullets for its project context (composed at the
 * composition root with the project instructions, under a lessons heading) and the ids to record in
 * `lesson.used`. Lines of memory.md that are not understood are not given to the agents.
 */
export function lessonsForRun(repo: string): { bullets?: string; lessonIds: string[]; file: string } {
  const memory = readMemory(repo);
  const lessons = lessonsOf(memory);
  return {
    bullets: lessonBullets(lessons),
    lessonIds: lessons.map((l) => l.id),
    file: relative(repo, memory.path),
  };
}
