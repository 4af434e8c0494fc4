import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";

/** The files of a repo read as project instructions, in this order. */
export const INSTRUCTION_FILES: readonly string[] = ["AGENTS.md", ".entourage/instructions.md"];

/** Characters of one instruction file given to the agents; the rest is left out with a note. */
export const MAX_INSTRUCTION_CHARS = 16_000;

/** One instruction file as the agents receive it. */
export interface ProjectInstructions {
  /** Repo-relative path, e.g. `AGENTS.md`. */
  file: string;
  text: string;
  /** Characters in the file when it was cut to `MAX_INSTRUCTION_CHARS`. */
  truncatedFrom?: number;
}

/**
 * The parts of what every agent of a run is told about the project, after its role prompt. Each part is
 * optional; contributors add a field rather than a string, so the order and headings stay in one place.
 */
export interface ProjectContextParts {
  /** AGENTS.md and .entourage/instructions.md (`readProjectInstructions`). */
  instructions?: readonly ProjectInstructions[];
  /** Accepted lessons from `.entourage/memory.md`, already formatted (one bullet each). */
  lessons?: string;
}

/** Reads AGENTS.md and .entourage/instructions.md from the repo, each capped at `maxChars`. */
export async function readProjectInstructions(
  repo: string,
  maxChars = MAX_INSTRUCTION_CHARS,
): Promise<ProjectInstructions[]> {
  const found: ProjectInstructions[] = [];
  for (const file of INSTRUCTION_FILES) {
    const path = join(repo, file);
    if (!existsSync(path)) continue;
    const text = (await readFile(path, "utf8")).trim();
    if (text === "") continue;
    found.push(
      text.length > maxChars
        ? { file, text: text.slice(0, maxChars), truncatedFrom: text.length }
        : { file, text },
    );
  }
  return found;
}

/**
 * Composes the project context: project instructions first, then lessons, each under a heading that says
 * where it came from. Undefined when there is nothing to say (the system prompt is then the role alone).
 * The result is recorded in `run.created` and must not depend on anything but `parts`, so a resumed run
 * sends the same prompt.
 */
export function composeProjectContext(parts: ProjectContextParts): string | undefined {
  const sections: string[] = [];
  for (const doc of parts.instructions ?? []) {
    const note = doc.truncatedFrom
      ? `\n\n[Only the first ${doc.text.length} of ${doc.truncatedFrom} characters of ${doc.file} are shown here; read the rest with read_file if you need it.]`
      : "";
    sections.push(`## Project instructions (from ${doc.file})\n\n${doc.text}${note}`);
  }
  const lessons = parts.lessons?.trim();
  if (lessons) {
    sections.push(
      `## Lessons from earlier corrections on this project (from .entourage/memory.md)\n\n${lessons}`,
    );
  }
  return sections.length > 0 ? sections.join("\n\n") : undefined;
}
