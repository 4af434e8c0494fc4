/**
 * Where edit_file's `old_string` is in a file when it is not there exactly. Models copy text with the
 * indentation of another nesting level, with tabs for spaces, with spaces around operators the file does
 * not have, or with `\n` written literally. Each strategy below is tried in turn, strictest first, and
 * applies only when it finds exactly one place: a tolerant match that could mean two places is refused.
 * Pure functions over strings, so every case is a unit test.
 */

import { lineAt } from "./text.ts";

export type EditStrategy = "exact" | "indentation" | "line-trimmed" | "whitespace" | "escapes";

/** Replace `content.slice(start, end)` with `text`. */
export interface Replacement {
  start: number;
  end: number;
  text: string;
}

export type EditPlan =
  | {
      kind: "match";
      strategy: EditStrategy;
      /** Sorted, non-overlapping. */
      replacements: Replacement[];
      /** How it matched, for the model: "ignoring whitespace". Empty for an exact match. */
      how: string;
    }
  | { kind: "ambiguous"; strategy: EditStrategy; how: string; lines: number[] }
  | { kind: "none" };

/** The file's line ending; `old_string`/`new_string` are converted to it. */
type Eol = "\n" | "\r\n";

export function planEdit(
  content: string,
  oldString: string,
  newString: string,
  options: { replaceAll?: boolean; eol: Eol },
): EditPlan {
  const exact = exactMatch(content, oldString, newString, options);
  if (exact.kind !== "none") return exact;
  const tolerant = tolerantMatch(content, oldString, newString, options.eol);
  if (tolerant.kind !== "none") return tolerant;
  // Escapes written literally (`\n`, `\t`, `\"`): the same search on the unescaped text.
  if (!/\\[ntr"'`\\]/.test(oldString)) return { kind: "none" };
  const oldText = unescapeLiterals(oldString);
  const newText = unescapeLiterals(newString);
  const how = 'after reading \\n, \\t and \\" in old_string and new_string as the characters they stand for';
  const again = exactMatch(content, oldText, newText, { eol: options.eol });
  const inner = again.kind !== "none" ? again : tolerantMatch(content, oldText, newText, options.eol);
  if (inner.kind === "none") return inner;
  return { ...inner, strategy: "escapes", how: inner.how ? `${how}, ${inner.how}` : how };
}

function exactMatch(
  content: string,
  oldString: string,
  newString: string,
  options: { replaceAll?: boolean; eol: Eol },
): EditPlan {
  // Keep the file's line endings: the model writes \n, a CRLF file gets \r\n.
  const candidates = [...new Set([convertEol(oldString, options.eol), oldString])];
  const found = candidates.find((candidate) => content.includes(candidate));
  if (found === undefined) return { kind: "none" };
  const text = found === oldString ? newString : convertEol(newString, options.eol);
  const starts: number[] = [];
  for (let at = content.indexOf(found); at !== -1; at = content.indexOf(found, at + found.length))
    starts.push(at);
  if (starts.length > 1 && !options.replaceAll) {
    return { kind: "ambiguous", strategy: "exact", how: "", lines: starts.map((at) => lineAt(content, at)) };
  }
  return {
    kind: "match",
    strategy: "exact",
    how: "",
    replacements: starts.map((start) => ({ start, end: start + found.length, text })),
  };
}

/** The line-wise strategies, then the character-wise one; the first that finds anything decides. */
function tolerantMatch(content: string, oldString: string, newString: string, eol: Eol): EditPlan {
  const lines = lineTable(content);
  const style = indentStyle(lines.map((l) => l.text));
  let needle = toLines(oldString);
  let replacement = toLines(newString);
  if (needle.every((line) => line.trim() === "")) return { kind: "none" };
  const converted = convertIndentation(needle, replacement, style);
  needle = converted.needle;
  replacement = converted.replacement;

  const strategies: { strategy: EditStrategy; how: string; same: (window: string[]) => boolean }[] = [
    {
      strategy: "indentation",
      how: "with a different indentation",
      same: (window) => sameDedented(needle, window),
    },
    {
      strategy: "line-trimmed",
      how: "comparing each line without its leading and trailing whitespace",
      same: (window) => window.every((line, i) => line.trim() === needle[i]!.trim()),
    },
  ];
  for (const { strategy, how, same } of strategies) {
    const found: number[] = [];
    for (let at = 0; at + needle.length <= lines.length; at++) {
      if (same(lines.slice(at, at + needle.length).map((l) => l.text))) found.push(at);
    }
    if (found.length > 1) return { kind: "ambiguous", strategy, how, lines: found.map((at) => at + 1) };
    if (found.length === 1) {
      const window = lines.slice(found[0]!, found[0]! + needle.length);
      const moved = reindent(
        replacement,
        needle,
        window.map((l) => l.text),
      );
      const detail = [moved.shifted ? "new_string re-indented to match" : "", converted.changed ?? ""]
        .filter(Boolean)
        .join(", ");
      return {
        kind: "match",
        strategy,
        how: detail ? `${how} (${detail})` : how,
        replacements: [{ start: window[0]!.start, end: window.at(-1)!.end, text: moved.lines.join(eol) }],
      };
    }
  }
  return whitespaceMatch(content, oldString, newString, eol);
}

/**
 * Whitespace-normalised: runs of whitespace count as one space between two word characters and as
 * nothing next to punctuation or an operator, so `a - b` matches `a-b` and `f( x )` matches `f(x)`.
 * Works inside a line as well as across lines.
 */
function whitespaceMatch(content: string, oldString: string, newString: string, eol: Eol): EditPlan {
  const needle = normalizeSpace(oldString).text;
  if (needle === "") return { kind: "none" };
  const haystack = normalizeSpace(content);
  const how = "ignoring whitespace";
  const starts: number[] = [];
  for (
    let at = haystack.text.indexOf(needle);
    at !== -1;
    at = haystack.text.indexOf(needle, at + needle.length)
  )
    starts.push(at);
  if (starts.length === 0) return { kind: "none" };
  const ranges = starts.map((at) => ({
    start: haystack.map[at]!,
    end: haystack.map[at + needle.length - 1]! + 1,
  }));
  if (ranges.length > 1) {
    return {
      kind: "ambiguous",
      strategy: "whitespace",
      how,
      lines: ranges.map((r) => lineAt(content, r.start)),
    };
  }
  // The match starts and ends at non-space characters: drop the whitespace old_string had around it.
  const lead = oldString.match(/^\s*/)![0];
  const trail = oldString.match(/\s*$/)![0];
  let text = newString;
  if (lead && text.startsWith(lead)) text = text.slice(lead.length);
  if (trail && text.endsWith(trail)) text = text.slice(0, text.length - trail.length);
  return {
    kind: "match",
    strategy: "whitespace",
    how,
    replacements: [{ ...ranges[0]!, text: convertEol(text, eol) }],
  };
}

interface Line {
  /** Without its line ending. */
  text: string;
  start: number;
  /** Index just past the text (before `\r\n`/`\n`). */
  end: number;
}

function lineTable(content: string): Line[] {
  const lines: Line[] = [];
  let start = 0;
  while (start < content.length) {
    const nl = content.indexOf("\n", start);
    const stop = nl === -1 ? content.length : nl;
    const end = stop > start && content[stop - 1] === "\r" ? stop - 1 : stop;
    lines.push({ text: content.slice(start, end), start, end });
    if (nl === -1) break;
    start = nl + 1;
  }
  return lines;
}

/** The lines of `old_string`/`new_string`; a final line break does not start another line. */
function toLines(text: string): string[] {
  const lines = text.split(/\r?\n/);
  if (lines.length > 1 && lines.at(-1) === "") lines.pop();
  return lines;
}

function leading(line: string): string {
  return line.match(/^[ \t]*/)![0];
}

/** Equal once each side loses its common indentation (relative indentation must match; trailing space ignored). */
function sameDedented(needle: readonly string[], window: readonly string[]): boolean {
  const a = dedent(needle);
  const b = dedent(window);
  return a.every((line, i) => line === b[i]);
}

function dedent(lines: readonly string[]): string[] {
  const width = commonIndent(lines);
  return lines.map((line) => (line.trim() === "" ? "" : line.slice(width).trimEnd()));
}

function commonIndent(lines: readonly string[]): number {
  const widths = lines.filter((line) => line.trim() !== "").map((line) => leading(line).length);
  return widths.length === 0 ? 0 : Math.min(...widths);
}

/**
 * new_string moved by the indentation change between old_string and the lines it matched: the first
 * non-blank line of each gives the two indentations. Lines indented less than old_string's keep theirs.
 */
function reindent(
  replacement: readonly string[],
  needle: readonly string[],
  window: readonly string[],
): { lines: string[]; shifted: boolean } {
  const first = needle.findIndex((line) => line.trim() !== "");
  const from = leading(needle[first]!);
  const to = leading(window[first]!);
  if (from === to) return { lines: [...replacement], shifted: false };
  const lines = replacement.map((line) => {
    if (line.trim() === "") return "";
    return line.startsWith(from) ? to + line.slice(from.length) : line;
  });
  return { lines, shifted: true };
}

interface IndentStyle {
  tabs: boolean;
  /** Spaces per level in a space-indented file. */
  width: number;
}

function indentStyle(lines: readonly string[]): IndentStyle {
  let tabs = 0;
  let spaces = 0;
  let width = 0;
  for (const line of lines) {
    if (line.startsWith("\t")) tabs++;
    else if (line.startsWith(" ") && line.trim() !== "") {
      spaces++;
      const n = leading(line).length;
      width = width === 0 ? n : gcd(width, n);
    }
  }
  return { tabs: tabs > spaces, width: width >= 2 && width <= 8 ? width : 4 };
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/** old_string/new_string indented with spaces for a tab-indented file (or the reverse), converted to the file's style. */
function convertIndentation(
  needle: string[],
  replacement: string[],
  file: IndentStyle,
): { needle: string[]; replacement: string[]; changed?: string } {
  const model = indentStyle(needle);
  const indented = needle.some((line) => /^[ \t]/.test(line) && line.trim() !== "");
  if (!indented || model.tabs === file.tabs) return { needle, replacement };
  const convert = (line: string) => {
    const lead = leading(line);
    const rest = line.slice(lead.length);
    if (file.tabs) {
      const spaces = lead.replaceAll("\t", " ".repeat(model.width)).length;
      return "\t".repeat(Math.floor(spaces / model.width)) + " ".repeat(spaces % model.width) + rest;
    }
    return lead.replaceAll("\t", " ".repeat(file.width)) + rest;
  };
  return {
    needle: needle.map(convert),
    replacement: replacement.map(convert),
    changed: file.tabs ? "spaces turned into the file's tabs" : "tabs turned into the file's spaces",
  };
}

function isWordChar(char: string | undefined): boolean {
  return char !== undefined && /[\p{L}\p{N}_$]/u.test(char);
}

/** `text` with whitespace normalised, and for each kept character its index in `text`. */
function normalizeSpace(text: string): { text: string; map: number[] } {
  let out = "";
  const map: number[] = [];
  let i = 0;
  while (i < text.length) {
    if (!/\s/.test(text[i]!)) {
      out += text[i];
      map.push(i);
      i++;
      continue;
    }
    const from = i;
    while (i < text.length && /\s/.test(text[i]!)) i++;
    if (isWordChar(out.at(-1)) && isWordChar(text[i])) {
      out += " ";
      map.push(from);
    }
  }
  return { text: out, map };
}

function convertEol(text: string, eol: Eol): string {
  return eol === "\r\n" ? text.replace(/\r?\n/g, "\r\n") : text.replace(/\r\n/g, "\n");
}

/** One pass, so `\\n` (an escaped backslash before n) stays a backslash and an n. */
function unescapeLiterals(text: string): string {
  const table: Record<string, string> = {
    n: "\n",
    t: "\t",
    r: "\r",
    '"': '"',
    "'": "'",
    "`": "`",
    "\\": "\\",
  };
  return text.replace(/\\([ntr"'`\\])/g, (_, char: string) => table[char]!);
}
