import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { UserError } from "../core/index.ts";

/**
 * `.entourage/memory.md`: the repo's lessons, plain markdown that people read, edit and review in a PR.
 * One bullet per lesson, its id and provenance in a trailing HTML comment:
 *
 *     - Use the jose library for JWT, not pyjwt. <!-- id: l_ab12 · run_xxx #42 -->
 *
 * A bullet written by hand without the comment is a lesson too (its id is derived from its text). Every
 * other line — headings, prose, code, a bullet whose comment we cannot read — is kept byte for byte: the
 * file is only ever changed at the lines a command names.
 */

export const MEMORY_FILE = join(".entourage", "memory.md");

export interface Lesson {
  id: string;
  text: string;
  /** Where it came from, e.g. `run_xxx #42`, `added 2026-11-25`, or `written in memory.md`. */
  provenance: string;
  /** 1-based line in memory.md. */
  line: number;
}

export type MemoryLine =
  | { kind: "lesson"; lesson: Lesson; raw: string }
  /** Not a lesson; `problem` says why a line that looks like one was not understood. */
  | { kind: "other"; raw: string; problem?: string };

export interface MemoryFile {
  /** Absolute path of memory.md. */
  path: string;
  exists: boolean;
  lines: MemoryLine[];
  /** Whether the file ended with a newline (kept as it was). */
  trailingNewline: boolean;
}

const HEADER = [
  "# Lessons for agents working in this repo",
  "",
  "<!-- Written by Entourage when you accept a lesson from a correction (entourage memory review), or with entourage memory add. Every agent of a run on this repo reads these. Edit freely: one bullet per lesson; the comment holds its id and where it came from. -->",
  "",
];

const TAGGED = /^[-*]\s+(.*?)\s*<!--\s*id:\s*(l_[0-9a-z]+)\s*(?:·\s*(.*?))?\s*-->\s*$/;
const BULLET = /^[-*]\s+(\S.*)$/;
const FENCE = /^\s*(```|~~~)/;

export function memoryPath(repo: string): string {
  return join(repo, MEMORY_FILE);
}

/** Reads and parses memory.md; an absent file is an empty memory. */
export function readMemory(repo: string): MemoryFile {
  const path = memoryPath(repo);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT")
      return { path, exists: false, lines: [], trailingNewline: true };
    throw new UserError("memory_unreadable", `Cannot read ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return { path, exists: true, ...parseMemory(text) };
}

/** Parses memory.md's text. Pure. */
export function parseMemory(text: string): Pick<MemoryFile, "lines" | "trailingNewline"> {
  const trailingNewline = text === "" || text.endsWith("\n");
  const rows = text === "" ? [] : text.replace(/\n$/, "").split("\n");
  const lines: MemoryLine[] = [];
  let inFence = false;
  let inComment = false;
  const seen = new Set<string>();
  for (const [i, raw] of rows.entries()) lines.push(classify(raw, i + 1));
  function classify(raw: string, line: number): MemoryLine {
    const content = raw.replace(/\r$/, "");
    // Bullets inside code blocks and multi-line comments are not lessons.
    if (FENCE.test(content)) {
      inFence = !inFence;
      return { kind: "other", raw };
    }
    if (inFence) return { kind: "other", raw };
    if (inComment) {
      if (content.includes("-->")) inComment = false;
      return { kind: "other", raw };
    }
    if (content.trimStart().startsWith("<!--") && !content.includes("-->")) {
      inComment = true;
      return { kind: "other", raw };
    }
    const tagged = TAGGED.exec(content);
    if (tagged) {
      const [, text, id, provenance] = tagged;
      if (!text) return { kind: "other", raw, problem: "a lesson with no text" };
      if (seen.has(id!)) return { kind: "other", raw, problem: `a second lesson with id ${id}` };
      seen.add(id!);
      return {
        kind: "lesson",
        raw,
        lesson: { id: id!, text: text.trim(), provenance: provenance?.trim() || "memory.md", line },
      };
    }
    const bullet = BULLET.exec(content);
    if (!bullet) return { kind: "other", raw };
    if (bullet[1]!.includes("<!--"))
      return { kind: "other", raw, problem: "its comment is not <!-- id: l_xxxx · provenance -->" };
    const text = bullet[1]!.trim();
    const id = handWrittenId(text, seen);
    seen.add(id);
    return { kind: "lesson", raw, lesson: { id, text, provenance: "written in memory.md", line } };
  }
  return { lines, trailingNewline };
}

/** A hand-written bullet's id: stable as long as its text is (edit and rm pin it in a comment). */
function handWrittenId(text: string, taken: ReadonlySet<string>): string {
  const hash = createHash("sha256").update(text).digest();
  for (let n = 0; ; n++) {
    let id = "l_";
    for (let i = 0; i < 4; i++) id += (hash[(i + n) % hash.length]! % 36).toString(36);
    if (!taken.has(id)) return id;
  }
}

export function lessonsOf(file: MemoryFile): Lesson[] {
  return file.lines.flatMap((l) => (l.kind === "lesson" ? [l.lesson] : []));
}

/** Lines that look like lessons but could not be read; they are kept as they are. */
export function problemsOf(file: MemoryFile): { line: number; raw: string; problem: string }[] {
  return file.lines.flatMap((l, i) =>
    l.kind === "other" && l.problem ? [{ line: i + 1, raw: l.raw, problem: l.problem }] : [],
  );
}

/** A fresh short id (`l_` + 4 base36 characters) not used in the file nor in `taken`. */
export function newLessonId(file: MemoryFile, taken: Iterable<string> = []): string {
  const used = new Set([...lessonsOf(file).map((l) => l.id), ...taken]);
  for (;;) {
    const bytes = randomBytes(4);
    let id = "l_";
    for (const b of bytes) id += (b % 36).toString(36);
    if (!used.has(id)) return id;
  }
}

/** One line of text, safe inside a bullet and next to an HTML comment; throws a UserError when empty. */
export function cleanLessonText(text: string): string {
  const clean = text
    .replace(/\s+/g, " ")
    .replace(/<!--|-->/g, "")
    .trim()
    .replace(/^[-*]\s+/, "");
  if (clean === "") throw new UserError("lesson_empty", "A lesson needs some text.");
  if (clean.length > 500)
    throw new UserError(
      "lesson_too_long",
      `A lesson is one short sentence; this one has ${clean.length} characters (at most 500).`,
    );
  return clean;
}

function formatLesson(lesson: Pick<Lesson, "id" | "text" | "provenance">): string {
  return `- ${lesson.text} <!-- id: ${lesson.id} · ${lesson.provenance.replace(/-->/g, "")} -->`;
}

function findLine(file: MemoryFile, id: string): number {
  const index = file.lines.findIndex((l) => l.kind === "lesson" && l.lesson.id === id);
  if (index < 0) {
    throw new UserError(
      "lesson_not_found",
      `No lesson ${id} in ${file.path}. List them with: entourage memory list`,
    );
  }
  return index;
}

/** Appends a lesson (after the last lesson, or at the end); a new file gets a short header first. */
export function addLine(file: MemoryFile, lesson: Pick<Lesson, "id" | "text" | "provenance">): MemoryFile {
  const lines: MemoryLine[] =
    file.exists || file.lines.length > 0 ? [...file.lines] : HEADER.map((raw) => ({ kind: "other", raw }));
  const entry: MemoryLine = { kind: "lesson", raw: formatLesson(lesson), lesson: { ...lesson, line: 0 } };
  const last = lines.findLastIndex((l) => l.kind === "lesson");
  if (last >= 0) lines.splice(last + 1, 0, entry);
  else {
    // Keep one blank line between whatever the file holds and the first lesson.
    if (lines.length > 0 && lines.at(-1)!.raw.trim() !== "") lines.push({ kind: "other", raw: "" });
    lines.push(entry);
  }
  return { ...file, lines };
}

/**
 * Saves `lesson` in place of the saved lessons `replace` names (at the first one's line, the others
 * removed), or appends it when `replace` is empty.
 */
export function putLine(
  file: MemoryFile,
  lesson: Pick<Lesson, "id" | "text" | "provenance">,
  replace: readonly string[] = [],
): MemoryFile {
  if (replace.length === 0) return addLine(file, lesson);
  const index = findLine(file, replace[0]!);
  for (const id of replace.slice(1)) findLine(file, id); // every id must exist before anything changes
  const lines = file.lines.filter((l) => !(l.kind === "lesson" && replace.slice(1).includes(l.lesson.id)));
  lines[lines.indexOf(file.lines[index]!)] = {
    kind: "lesson",
    raw: formatLesson(lesson),
    lesson: { ...lesson, line: 0 },
  };
  return { ...file, lines };
}

export function removeLine(file: MemoryFile, id: string): MemoryFile {
  const index = findLine(file, id);
  return { ...file, lines: file.lines.filter((_, i) => i !== index) };
}

/** Replaces a lesson's text; it keeps its id and provenance (a hand-written bullet gets its id pinned). */
export function editLine(file: MemoryFile, id: string, text: string): MemoryFile {
  const index = findLine(file, id);
  const old = file.lines[index] as Extract<MemoryLine, { kind: "lesson" }>;
  const lesson = { ...old.lesson, text };
  const lines = [...file.lines];
  lines[index] = { kind: "lesson", raw: formatLesson(lesson), lesson };
  return { ...file, lines };
}

export function serializeMemory(file: MemoryFile): string {
  const text = file.lines.map((l) => l.raw).join("\n");
  return file.trailingNewline && text !== "" ? `${text}\n` : text;
}

/** Writes memory.md atomically (a temp file renamed over it), creating `.entourage/` if needed. */
export function writeMemory(file: MemoryFile): void {
  mkdirSync(dirname(file.path), { recursive: true });
  const tmp = `${file.path}.${process.pid}.tmp`;
  writeFileSync(tmp, serializeMemory(file));
  renameSync(tmp, file.path);
}
