/**
 * Terminal output with ANSI SGR colour codes → styled segments (rendered as spans, never as HTML). Handles
 * the 16 colours (normal and bright), 256-colour and 24-bit colours, bold, dim, italic, underline, inverse
 * and resets; other escape sequences (cursor moves, erase line, OSC titles) are dropped.
 */

export interface AnsiStyle {
  fg?: string;
  bg?: string;
  bold?: boolean;
  dim?: boolean;
  italic?: boolean;
  underline?: boolean;
  inverse?: boolean;
}

export interface AnsiSegment {
  text: string;
  style: AnsiStyle;
}

/** The 16 base colours, readable on the dashboard's dark output panel (contrast ≥ 4.5:1 for the normal ones). */
export const PALETTE = [
  "#5c6370", // black (lifted so it shows on a dark background)
  "#ff6b6b",
  "#8bd46b",
  "#e5c07b",
  "#6cb2ff",
  "#d38aea",
  "#56d4dd",
  "#d7dae0",
  "#7f8796",
  "#ff8f8f",
  "#a9e68f",
  "#f0d494",
  "#93c8ff",
  "#e2a9f2",
  "#7fe3ea",
  "#ffffff",
];

function color256(n: number): string {
  if (n < 16) return PALETTE[n]!;
  if (n < 232) {
    const i = n - 16;
    const level = (v: number) => (v === 0 ? 0 : 55 + v * 40);
    return `rgb(${level(Math.floor(i / 36))}, ${level(Math.floor(i / 6) % 6)}, ${level(i % 6)})`;
  }
  const gray = 8 + (n - 232) * 10;
  return `rgb(${gray}, ${gray}, ${gray})`;
}

function applyCodes(style: AnsiStyle, codes: number[]): AnsiStyle {
  const s = { ...style };
  for (let i = 0; i < codes.length; i++) {
    const c = codes[i]!;
    if (c === 0) {
      for (const k of Object.keys(s)) delete s[k as keyof AnsiStyle];
    } else if (c === 1) s.bold = true;
    else if (c === 2) s.dim = true;
    else if (c === 3) s.italic = true;
    else if (c === 4) s.underline = true;
    else if (c === 7) s.inverse = true;
    else if (c === 22) {
      s.bold = undefined;
      s.dim = undefined;
    } else if (c === 23) s.italic = undefined;
    else if (c === 24) s.underline = undefined;
    else if (c === 27) s.inverse = undefined;
    else if (c >= 30 && c <= 37) s.fg = PALETTE[c - 30];
    else if (c >= 90 && c <= 97) s.fg = PALETTE[c - 90 + 8];
    else if (c >= 40 && c <= 47) s.bg = PALETTE[c - 40];
    else if (c >= 100 && c <= 107) s.bg = PALETTE[c - 100 + 8];
    else if (c === 39) s.fg = undefined;
    else if (c === 49) s.bg = undefined;
    else if (c === 38 || c === 48) {
      const key = c === 38 ? "fg" : "bg";
      if (codes[i + 1] === 5 && codes[i + 2] !== undefined) {
        s[key] = color256(codes[i + 2]! & 255);
        i += 2;
      } else if (codes[i + 1] === 2 && codes[i + 4] !== undefined) {
        const [r, g, b] = [codes[i + 2]!, codes[i + 3]!, codes[i + 4]!].map((v) =>
          Math.max(0, Math.min(255, v)),
        );
        s[key] = `rgb(${r}, ${g}, ${b})`;
        i += 4;
      }
    }
  }
  for (const k of Object.keys(s) as (keyof AnsiStyle)[]) if (s[k] === undefined) delete s[k];
  return s;
}

// CSI sequences (ESC [ … final byte), OSC sequences (ESC ] … BEL or ESC \), and lone two-byte escapes.
const ESCAPE = /\u001b\[([0-9;?]*)([@-~])|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)|\u001b[@-Z\\-_]/g;

/** Splits `text` into styled segments; adjacent text with the same style is merged. */
export function parseAnsi(text: string, initial: AnsiStyle = {}): AnsiSegment[] {
  const out: AnsiSegment[] = [];
  let style = initial;
  let last = 0;
  const push = (chunk: string) => {
    if (!chunk) return;
    const prev = out.at(-1);
    if (prev && prev.style === style) prev.text += chunk;
    else out.push({ text: chunk, style });
  };
  for (const m of text.matchAll(ESCAPE)) {
    push(text.slice(last, m.index));
    last = m.index + m[0].length;
    if (m[2] === "m") {
      const codes = (m[1] ?? "").split(";").map((v) => (v === "" ? 0 : Number(v)));
      style = applyCodes(style, codes);
    }
  }
  push(text.slice(last));
  return out;
}

/** The text without any escape sequence. */
export function stripAnsi(text: string): string {
  return text.replace(ESCAPE, "");
}
