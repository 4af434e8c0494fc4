import type { Lesson } from "./memory-file.ts";

/**
 * Duplicates and contradictions between a new lesson and the saved ones, by plain text rules (no model):
 * the point is to SHOW a likely clash to the person deciding, never to decide for them, so a false alarm
 * costs one line of output and a miss costs nothing worse than today's stacking.
 *
 * - duplicate: the same words after normalising case and punctuation, or a high overlap of content words
 *   (Jaccard ≥ 0.8) without opposite polarity.
 * - contradiction: one says to do/use X and the other not to ("use X" / "do not use X", "use X, not Y" /
 *   "use Y"), where X is the same subject (one's content words contain the other's, or overlap ≥ 0.5).
 */

export interface Conflicts {
  duplicates: Lesson[];
  contradictions: Lesson[];
}

const STOPWORDS = new Set(
  "a an the to of for in on at by and or with is are be it its this that these those when where your you our we than instead rather over always please prefer use using used uses".split(
    " ",
  ),
);
const NEGATION =
  /^(?:do not|don't|dont|never|avoid|stop|no longer|must not|should not|shouldn't|mustn't)\s+(.*)$/;
/** "X, not Y", "X instead of Y", "X rather than Y": a positive X and a negative Y. */
const ALTERNATIVE = /^(.*?)(?:,\s*(?:and\s+)?not\s+|\s+instead of\s+|\s+rather than\s+)(.+)$/;
/** After "use …" a bare "not" also names the alternative: "use jose not pyjwt". */
const USE_NOT = /^((?:use|prefer)\s+.*?)\s+not\s+(.+)$/;
const PREFER_OVER = /^prefer\s+(.*?)\s+(?:over|to)\s+(.+)$/;

interface Claim {
  positive: boolean;
  words: Set<string>;
}

export function normalize(text: string): string {
  return text
    .toLowerCase()
    .replace(/[’']/g, "'")
    .replace(/[^a-z0-9'._/@,-]+/g, " ")
    .replace(/(?<=\w)[.]+(?=\s|$)/g, "")
    .trim();
}

function stem(word: string): string {
  return word.length > 3 && word.endsWith("s") && !word.endsWith("ss") ? word.slice(0, -1) : word;
}

function contentWords(text: string): Set<string> {
  return new Set(
    normalize(text)
      .split(/[\s,]+/)
      .filter((w) => w !== "" && !STOPWORDS.has(w) && w !== "not" && w !== "do" && w !== "don't")
      .map(stem),
  );
}

/** What a lesson asks for, as (polarity, subject) pairs. */
export function claimsOf(text: string): Claim[] {
  const sentence = normalize(text.split(/(?<=[.!?])\s/)[0] ?? text).replace(/^always\s+/, "");
  const claim = (positive: boolean, part: string): Claim => ({ positive, words: contentWords(part) });
  const negated = NEGATION.exec(sentence);
  if (negated) return [claim(false, negated[1]!)];
  const prefer = PREFER_OVER.exec(sentence);
  if (prefer) return [claim(true, prefer[1]!), claim(false, prefer[2]!)];
  const alternative = ALTERNATIVE.exec(sentence) ?? USE_NOT.exec(sentence);
  if (alternative) return [claim(true, alternative[1]!), claim(false, alternative[2]!)];
  return [claim(true, sentence)];
}

function jaccard(a: Set<string>, b: Set<string>): number {
  if (a.size === 0 && b.size === 0) return 1;
  let both = 0;
  for (const w of a) if (b.has(w)) both++;
  return both / (a.size + b.size - both);
}

function sameSubject(a: Set<string>, b: Set<string>): boolean {
  if (a.size === 0 || b.size === 0) return false;
  const [small, large] = a.size <= b.size ? [a, b] : [b, a];
  return [...small].every((w) => large.has(w)) || jaccard(a, b) >= 0.5;
}

export function contradicts(a: string, b: string): boolean {
  const ca = claimsOf(a);
  const cb = claimsOf(b);
  return ca.some((x) => cb.some((y) => x.positive !== y.positive && sameSubject(x.words, y.words)));
}

export function duplicates(a: string, b: string): boolean {
  if (normalize(a) === normalize(b)) return true;
  return jaccard(contentWords(a), contentWords(b)) >= 0.8 && !contradicts(a, b);
}

/** The saved lessons a new text duplicates or may contradict (`except`: the lesson being edited). */
export function findConflicts(text: string, lessons: readonly Lesson[], except?: string): Conflicts {
  const others = lessons.filter((l) => l.id !== except);
  const dup = others.filter((l) => duplicates(text, l.text));
  const contra = others.filter((l) => !dup.includes(l) && contradicts(text, l.text));
  return { duplicates: dup, contradictions: contra };
}
