import { isUtf8 } from "node:buffer";
import path from "node:path";

/**
 * File names are bytes on Linux, and git lists them as bytes (`-z`). Most are UTF-8; some are not — a
 * latin-1 `café.txt` is `caf\xE9.txt`. Decoding those as UTF-8 would turn the byte into U+FFFD, and the
 * file could then be neither found nor written again: it would silently drop out of the workspace, or an
 * apply would write a different name. So paths are decoded the way Python's `surrogateescape` does it:
 * valid UTF-8 as text, and each byte that is not part of valid UTF-8 as the lone surrogate U+DC00 + byte
 * (U+DC80–U+DCFF), which no valid UTF-8 can produce. The string round-trips to the exact bytes
 * (`encodePath`), survives JSON (lone surrogates are written as `\udce9`) and so the event log, and
 * compares and splits on `/` like any path. Only where a path meets the filesystem or git does it become
 * bytes again (`fsPath`, git's stdin); views show the bytes as `\xE9` (`printablePath`, core/format.ts).
 */

/** A path's bytes as a string, decoded as above. */
export function decodePath(bytes: Uint8Array): string {
  if (isUtf8(bytes)) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("utf8");
  let out = "";
  let i = 0;
  let plainFrom = 0;
  const flushPlain = (to: number) => {
    if (to > plainFrom)
      out += Buffer.from(bytes.buffer, bytes.byteOffset + plainFrom, to - plainFrom).toString("utf8");
  };
  while (i < bytes.length) {
    const length = utf8SequenceLength(bytes, i);
    if (length > 0) {
      i += length;
      continue;
    }
    flushPlain(i);
    out += String.fromCharCode(0xdc00 + bytes[i]!);
    i += 1;
    plainFrom = i;
  }
  flushPlain(i);
  return out;
}

/** The bytes of a path decoded by `decodePath` (plain UTF-8 for any well-formed string). */
export function encodePath(text: string): Buffer {
  if (text.isWellFormed()) return Buffer.from(text, "utf8");
  const parts: Buffer[] = [];
  let plain = "";
  for (const char of text) {
    const code = char.charCodeAt(0);
    if (char.length === 1 && code >= 0xdc80 && code <= 0xdcff) {
      parts.push(Buffer.from(plain, "utf8"), Buffer.from([code - 0xdc00]));
      plain = "";
    } else plain += char;
  }
  parts.push(Buffer.from(plain, "utf8"));
  return Buffer.concat(parts);
}

/** True when `rel` holds bytes that are not UTF-8 (escaped as above). */
export function hasRawBytes(rel: string): boolean {
  return !rel.isWellFormed();
}

/**
 * `root` joined with the workspace-relative `rel`, as Node's fs wants it: a string for UTF-8 names, a
 * Buffer of the exact bytes otherwise (every `fs` function takes either).
 */
export function fsPath(root: string, rel: string): string | Buffer {
  if (!hasRawBytes(rel)) return path.join(root, rel);
  return Buffer.concat([Buffer.from(`${root.replace(/\/+$/, "")}/`), encodePath(rel)]);
}

/** Length of the valid UTF-8 sequence at `i` (1–4), or 0 when the byte there does not start one. */
function utf8SequenceLength(bytes: Uint8Array, i: number): number {
  const b0 = bytes[i]!;
  if (b0 < 0x80) return 1;
  const cont = (k: number, lo = 0x80, hi = 0xbf) => {
    const b = bytes[i + k];
    return b !== undefined && b >= lo && b <= hi;
  };
  // Ranges from the Unicode standard's table of well-formed UTF-8 (no overlongs, no surrogates).
  if (b0 >= 0xc2 && b0 <= 0xdf) return cont(1) ? 2 : 0;
  if (b0 === 0xe0) return cont(1, 0xa0) && cont(2) ? 3 : 0;
  if ((b0 >= 0xe1 && b0 <= 0xec) || b0 === 0xee || b0 === 0xef) return cont(1) && cont(2) ? 3 : 0;
  if (b0 === 0xed) return cont(1, 0x80, 0x9f) && cont(2) ? 3 : 0;
  if (b0 === 0xf0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (b0 >= 0xf1 && b0 <= 0xf3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (b0 === 0xf4) return cont(1, 0x80, 0x8f) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}
