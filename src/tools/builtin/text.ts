/** Small text helpers shared by the file tools: numbered lines and "did you mean" similarity. */

/** `cat -n` style: the line number right-aligned in 6 columns, an arrow, the text. */
export function numberLine(lineNumber: number, text: string): string {
  return `${String(lineNumber).padStart(6)}→${text}`;
}

export function numberLines(lines: readonly string[], firstLine: number): string {
  return lines.map((text, i) => numberLine(firstLine + i, text)).join("\n");
}

function bigrams(text: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i < text.length - 1; i++) {
    const pair = text.slice(i, i + 2);
    counts.set(pair, (counts.get(pair) ?? 0) + 1);
  }
  return counts;
}

/** Sørensen–Dice similarity over character bigrams, 0…1. Linear time, good enough for "closest". */
export function similarity(a: string, b: string): number {
  if (a === b) return 1;
  return dice(bigrams(a), a.length, bigrams(b), b.length);
}

function dice(
  left: Map<string, number>,
  leftLength: number,
  right: Map<string, number>,
  rightLength: number,
): number {
  if (leftLength < 2 || rightLength < 2) return 0;
  let shared = 0;
  for (const [pair, count] of left) shared += Math.min(count, right.get(pair) ?? 0);
  return (2 * shared) / (leftLength - 1 + (rightLength - 1));
}

/** Up to `max` paths from `files` that look like `wanted` (by file name first, then whole path). */
export function similarPaths(files: readonly string[], wanted: string, max = 5): string[] {
  const wantedName = wanted.split("/").at(-1)!.toLowerCase();
  const wantedPath = wanted.toLowerCase();
  return files
    .map((file) => {
      const name = file.split("/").at(-1)!.toLowerCase();
      const score = Math.max(
        similarity(name, wantedName),
        0.9 * similarity(file.toLowerCase(), wantedPath),
        name.includes(wantedName.replace(/\.[^.]*$/, "")) && wantedName.length > 3 ? 0.5 : 0,
      );
      return { file, score };
    })
    .filter((entry) => entry.score >= 0.45)
    .sort((a, b) => b.score - a.score || a.file.localeCompare(b.file))
    .slice(0, max)
    .map((entry) => entry.file);
}

export interface Region {
  /** 0-based index of the first line. */
  start: number;
  length: number;
  /** Mean line similarity, 0…1. */
  score: number;
}

/**
 * The run of `needle.length` consecutive lines in `haystack` most similar to `needle`, comparing lines
 * with surrounding whitespace trimmed (indentation is the most common reason an exact match fails).
 */
export function closestRegion(haystack: readonly string[], needle: readonly string[]): Region | undefined {
  const wanted = needle.map((line) => line.trim());
  const length = Math.min(wanted.length, haystack.length);
  if (length === 0) return undefined;
  const have = haystack.map((line) => line.trim());
  const wantedGrams = wanted.map(bigrams);
  const haveGrams = have.map(bigrams);
  const score = (i: number, j: number) =>
    wanted[i] === have[j] ? 1 : dice(wantedGrams[i]!, wanted[i]!.length, haveGrams[j]!, have[j]!.length);
  let best: Region | undefined;
  for (let start = 0; start + length <= have.length; start++) {
    let total = 0;
    for (let i = 0; i < length; i++) total += score(i, start + i);
    const mean = total / wanted.length;
    if (!best || mean > best.score) best = { start, length, score: mean };
  }
  return best;
}

/** 1-based line number of character `index` in `text`. */
export function lineAt(text: string, index: number): number {
  let line = 1;
  for (let i = text.indexOf("\n"); i !== -1 && i < index; i = text.indexOf("\n", i + 1)) line++;
  return line;
}
