import {
  createdData,
  type EntourageEvent,
  type EventData,
  foldRun,
  isTerminal,
  type NewEvent,
  UserError,
} from "../core/index.ts";
import type { Model } from "../llm/index.ts";
import type { EventStore } from "../store/index.ts";
import { type Conflicts, findConflicts } from "./conflicts.ts";
import { type Correction, findCorrections } from "./corrections.ts";
import { draftLesson } from "./draft.ts";
import {
  cleanLessonText,
  lessonsOf,
  newLessonId,
  putLine,
  readMemory,
  removeLine,
  writeMemory,
} from "./memory-file.ts";

/** A proposed lesson of a run and what became of it, folded from the run's lesson events. */
export interface Proposal {
  lessonId: string;
  text: string;
  sourceSeq: number;
  correction?: EventData<"lesson.proposed">["correction"];
  drafted?: "model" | "quoted";
  note?: string;
  status: "pending" | "accepted" | "edited" | "rejected";
  /** The text that was (or is to be) saved, after an edit. */
  decidedText?: string;
  replace?: string[];
  saved: boolean;
}

export function proposalsOf(events: readonly EntourageEvent[]): Proposal[] {
  const proposals = new Map<string, Proposal>();
  for (const e of events) {
    if (e.type === "lesson.proposed") {
      proposals.set(e.data.lessonId, {
        lessonId: e.data.lessonId,
        text: e.data.text,
        sourceSeq: e.data.sourceSeq,
        correction: e.data.correction,
        drafted: e.data.drafted,
        note: e.data.note,
        status: "pending",
        saved: false,
      });
    } else if (e.type === "lesson.decided") {
      const p = proposals.get(e.data.lessonId);
      if (p) {
        p.status = e.data.decision;
        p.decidedText = e.data.text ?? p.text;
        p.replace = e.data.replace;
      }
    } else if (e.type === "lesson.saved") {
      const p = proposals.get(e.data.lessonId);
      if (p) p.saved = true;
    }
  }
  return [...proposals.values()];
}

/** Corrections of the run that no lesson was proposed (or skipped) for yet. */
export function undraftedCorrections(events: readonly EntourageEvent[]): Correction[] {
  const handled = new Set(
    events.flatMap((e) =>
      e.type === "lesson.proposed" || e.type === "lesson.skipped" ? [e.data.sourceSeq] : [],
    ),
  );
  return findCorrections(events).filter((c) => !handled.has(c.seq));
}

/**
 * Proposes one lesson per correction of a finished run that has none yet: drafted by `model` (the run's
 * own), logged as `lesson.proposed` with the correction's seq, or `lesson.skipped` when the model finds
 * nothing general in it. Nothing is written to memory.md: that waits for a person's decision. Returns the
 * run's pending proposals (including earlier ones).
 */
export async function proposeLessons(
  store: EventStore,
  runId: string,
  model: Model,
  options: { signal?: AbortSignal; onDrafting?: (count: number) => void } = {},
): Promise<Proposal[]> {
  const events = await store.read(runId);
  const created = createdData(runId, events);
  if (!isTerminal(foldRun(runId, events).status)) {
    throw new UserError(
      "run_active",
      `Run ${runId} has not finished; lessons are proposed once it has. Resume it with: entourage resume ${runId}`,
    );
  }
  const todo = undraftedCorrections(events);
  if (todo.length > 0) options.onDrafting?.(todo.length);
  const memory = readMemory(created.repo);
  const taken = new Set(proposalsOf(events).map((p) => p.lessonId));
  for (const correction of todo) {
    const draft = await draftLesson(model, created.task, correction, options.signal);
    let event: NewEvent;
    if (draft.kind === "none") {
      event = { type: "lesson.skipped", data: { sourceSeq: correction.seq, reason: draft.reason } };
    } else {
      const lessonId = newLessonId(memory, taken);
      taken.add(lessonId);
      event = {
        type: "lesson.proposed",
        data: {
          lessonId,
          text: draft.text,
          sourceSeq: correction.seq,
          correction: { kind: correction.kind, text: correction.said },
          drafted: draft.drafted,
          note: draft.note,
        },
      };
    }
    await store.append(runId, [event]);
  }
  return proposalsOf(await store.read(runId)).filter((p) => p.status === "pending");
}

/** The saved lessons a text duplicates or may contradict, in the run's repo. */
export function conflictsIn(repo: string, text: string): Conflicts {
  return findConflicts(text, lessonsOf(readMemory(repo)));
}

export interface Decision {
  lessonId: string;
  decision: "accepted" | "edited" | "rejected";
  by: string;
  /** The person's text, for `edited`. */
  text?: string;
  reason?: string;
  /** Saved lessons this one replaces (removed from memory.md in the same write). */
  replace?: string[];
}

/**
 * Records a person's decision on a proposed lesson (`lesson.decided`) and, when they kept it, writes it to
 * the repo's memory.md and logs `lesson.saved`. The decision is logged before the file is written, so a
 * crash in between is finished by deciding again (the same decision is accepted once more).
 */
export async function decideLesson(
  store: EventStore,
  runId: string,
  decision: Decision,
): Promise<{ saved?: { lessonId: string; file: string; replaced: string[] } }> {
  const events = await store.read(runId);
  const created = createdData(runId, events);
  const proposal = proposalsOf(events).find((p) => p.lessonId === decision.lessonId);
  if (!proposal) {
    throw new UserError(
      "lesson_not_found",
      `Run ${runId} has no proposed lesson ${decision.lessonId}. See them with: entourage memory review ${runId}`,
    );
  }
  const unfinishedSave = proposal.status !== "pending" && proposal.status !== "rejected" && !proposal.saved;
  if (proposal.status !== "pending" && !unfinishedSave) {
    throw new UserError(
      "lesson_decided",
      `Lesson ${proposal.lessonId} of run ${runId} was already ${proposal.status}.`,
    );
  }
  if (decision.decision === "rejected") {
    await store.append(runId, [
      {
        type: "lesson.decided",
        data: { lessonId: proposal.lessonId, decision: "rejected", by: decision.by, reason: decision.reason },
      },
    ]);
    return {};
  }
  let memory = readMemory(created.repo);
  // Finishing an interrupted save repeats the logged decision; lines it replaced may be gone already.
  const text = unfinishedSave
    ? proposal.decidedText!
    : cleanLessonText(decision.decision === "edited" ? (decision.text ?? "") : proposal.text);
  const present = new Set(lessonsOf(memory).map((l) => l.id));
  const replace = unfinishedSave
    ? (proposal.replace ?? []).filter((id) => present.has(id))
    : (decision.replace ?? []);
  for (const id of replace) if (!present.has(id)) removeLine(memory, id); // throws lesson_not_found, before anything is logged
  if (!unfinishedSave) {
    await store.append(runId, [
      {
        type: "lesson.decided",
        data: {
          lessonId: proposal.lessonId,
          decision: decision.decision,
          by: decision.by,
          text: decision.decision === "edited" ? text : undefined,
          reason: decision.reason,
          replace: replace.length > 0 ? replace : undefined,
        },
      },
    ]);
  }
  let id = proposal.lessonId;
  if (!lessonsOf(memory).some((l) => l.id === id && l.text === text)) {
    // The id was free when proposed; a lesson saved since may have taken it (one in ~10⁶).
    if (lessonsOf(memory).some((l) => l.id === id && !replace.includes(id))) id = newLessonId(memory);
    memory = putLine(memory, { id, text, provenance: `${runId} #${proposal.sourceSeq}` }, replace);
    writeMemory(memory);
  } else if (replace.length > 0) {
    for (const other of replace) memory = removeLine(memory, other);
    writeMemory(memory);
  }
  await store.append(runId, [
    {
      type: "lesson.saved",
      data: {
        lessonId: proposal.lessonId,
        text,
        file: memory.path,
        replaced: replace.length > 0 ? replace : undefined,
        savedAs: id === proposal.lessonId ? undefined : id,
      },
    },
  ]);
  return { saved: { lessonId: id, file: memory.path, replaced: replace } };
}
