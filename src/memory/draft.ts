import { errorMessage } from "../core/index.ts";
import type { Model } from "../llm/index.ts";
import type { Correction } from "./corrections.ts";

/** The system prompt of the drafting call. Short: one correction in, one sentence (or "none") out. */
export const DRAFT_SYSTEM_PROMPT = [
  "You turn a person's correction of an AI coding agent into a lesson for future tasks in the same repository.",
  'Answer with exactly one short imperative sentence (at most 30 words), general enough to help on other tasks in this repository, for example: "Use the jose library for JWT, not pyjwt."',
  "If the correction only concerns this one task and teaches nothing general, answer exactly: none",
  "Answer with the sentence only: no preamble, no quotes, no list.",
].join("\n");

export type Draft =
  | { kind: "lesson"; text: string; drafted: "model" | "quoted"; note?: string }
  | { kind: "none"; reason: string };

const KIND_LABEL: Record<Correction["kind"], string> = {
  denial: "a denied tool call, with the person's reason",
  "plan-sent-back": "a plan the person sent back, with their reason",
  "plan-edit": "a plan the person edited",
  intervention: "a message the person sent to the agent",
};

/** The user message of the drafting call. */
export function draftPrompt(task: string, correction: Correction): string {
  return [
    `Task of the run: ${task}`,
    "",
    `Correction (${KIND_LABEL[correction.kind]}):`,
    correction.said,
    "",
    `Context: ${correction.context}`,
  ].join("\n");
}

/**
 * Drafts one lesson from a correction with the run's model. The scripted (demo) model cannot draft, and
 * a failed model call should not lose the correction: both quote the person's own words instead, labelled
 * `quoted` (and why), never passed off as the model's.
 */
export async function draftLesson(
  model: Model,
  task: string,
  correction: Correction,
  signal?: AbortSignal,
): Promise<Draft> {
  if (model.scripted) {
    return {
      kind: "lesson",
      text: correction.said,
      drafted: "quoted",
      note: "the scripted demo model does not draft lessons; this quotes the correction",
    };
  }
  let answer = "";
  try {
    for await (const part of model.stream({
      system: DRAFT_SYSTEM_PROMPT,
      messages: [{ role: "user", content: draftPrompt(task, correction) }],
      tools: [],
      signal,
      maxOutputTokens: 200,
    })) {
      if (part.type === "text-delta") answer += part.text;
      // A retried attempt starts over.
      if (part.type === "retry" && part.partialDiscarded) answer = "";
    }
  } catch (error) {
    if (signal?.aborted) throw error;
    return {
      kind: "lesson",
      text: correction.said,
      drafted: "quoted",
      note: `the model could not draft it (${errorMessage(error)}); this quotes the correction`,
    };
  }
  const text = parseDraft(answer);
  if (text === undefined) return { kind: "none", reason: "the model found no general lesson in it" };
  return { kind: "lesson", text, drafted: "model" };
}

/** The sentence in the model's answer; undefined for "none" or an empty answer. */
export function parseDraft(answer: string): string | undefined {
  const line = answer
    .split("\n")
    .map((l) => l.trim())
    .find((l) => l !== "");
  if (!line) return undefined;
  const text = line
    .replace(/^(?:[-*•]\s+|\d+[.)]\s+)/, "")
    .replace(/^(?:lesson|answer)\s*:\s*/i, "")
    .replace(/^["“'`]+|["”'`]+$/g, "")
    .trim();
  if (text === "" || /^none\b[.!]?$/i.test(text)) return undefined;
  return text.length > 300 ? `${text.slice(0, 299)}…` : text;
}
