import { constants, type Stats } from "node:fs";
import { chown, lstat, mkdir, open, readFile, readlink } from "node:fs/promises";
import path from "node:path";
import { ToolInputError } from "../core/index.ts";
import type { ConfinedPath } from "./confine.ts";

/** Files larger than this are not read whole; the model is told how to look at them in parts. */
export const MAX_READ_BYTES = 16 * 1024 * 1024;
/** A NUL byte in this many leading bytes marks a file as binary (git's heuristic). */
export const BINARY_SNIFF_BYTES = 8192;

export interface ReadTextOptions {
  /** First line to return, 1-based. Default 1. */
  offset?: number;
  /** Maximum number of lines. Default: all. */
  limit?: number;
}

export interface TextSlice {
  path: string;
  /** The requested lines, without their line endings. */
  lines: string[];
  /** 1-based number of `lines[0]`. */
  startLine: number;
  totalLines: number;
  /** The file's dominant line ending. */
  eol: "\n" | "\r\n";
  bytes: number;
}

export interface WriteResult {
  path: string;
  created: boolean;
  bytes: number;
  /** Size before the write, when the file existed. */
  previousBytes?: number;
}

export interface WorkspaceStat {
  type: "file" | "directory" | "symlink" | "other";
  size: number;
  /** Permission bits, e.g. 0o644. */
  mode: number;
  mtimeMs: number;
}

export function isBinary(bytes: Buffer): boolean {
  return bytes.subarray(0, BINARY_SNIFF_BYTES).includes(0);
}

/** The dominant line ending of `text` (CRLF only when most line breaks are CRLF). */
export function detectEol(text: string): "\n" | "\r\n" {
  const crlf = text.match(/\r\n/g)?.length ?? 0;
  const lf = (text.match(/\n/g)?.length ?? 0) - crlf;
  return crlf > lf ? "\r\n" : "\n";
}

/** Splits text into lines without endings; a final line break does not start another line. */
export function splitLines(text: string): string[] {
  if (text === "") return [];
  const lines = text.split(/\r?\n/);
  if (lines.at(-1) === "") lines.pop();
  return lines;
}

/** Reads a regular file's bytes, with actionable errors for what is not one. */
export async function readBytesAt(target: ConfinedPath): Promise<Buffer> {
  const info = await statAt(target.real);
  if (!info || (target.isSymlink && !info.isFile() && !info.isDirectory())) {
    throw new ToolInputError(`${target.rel || "."} does not exist in the workspace.`, { code: "not_found" });
  }
  if (info.isDirectory()) {
    throw new ToolInputError(
      `${target.rel || "."} is a directory. List its files with list_files (path="${target.rel}").`,
      {
        code: "is_directory",
      },
    );
  }
  if (!info.isFile())
    throw new ToolInputError(`${target.rel} is not a regular file.`, { code: "not_a_file" });
  if (info.size > MAX_READ_BYTES) {
    throw new ToolInputError(
      `${target.rel} is ${(info.size / 1024 / 1024).toFixed(1)} MB, too large to read whole. Use search to find the part you need, or run_command with head/sed.`,
      { code: "too_large" },
    );
  }
  return readFile(target.real);
}

export async function readTextAt(target: ConfinedPath, options: ReadTextOptions = {}): Promise<TextSlice> {
  const bytes = await readBytesAt(target);
  if (isBinary(bytes)) {
    throw new ToolInputError(
      `${target.rel} is a binary file (${bytes.length} bytes), not text. Inspect it with run_command (e.g. \`file ${target.rel}\`) if you need to.`,
      { code: "binary_file" },
    );
  }
  const text = bytes.toString("utf8");
  const all = splitLines(text);
  const offset = Math.max(1, Math.floor(options.offset ?? 1));
  if (offset > 1 && offset > all.length) {
    throw new ToolInputError(
      `offset ${offset} is past the end of ${target.rel}, which has ${all.length} line(s). Use an offset from 1 to ${Math.max(all.length, 1)}.`,
      { code: "offset_out_of_range" },
    );
  }
  const end =
    options.limit === undefined ? all.length : Math.min(all.length, offset - 1 + Math.max(0, options.limit));
  return {
    path: target.rel,
    lines: all.slice(offset - 1, end),
    startLine: offset,
    totalLines: all.length,
    eol: detectEol(text),
    bytes: bytes.length,
  };
}

/**
 * Creates or overwrites a file with `content`, creating parent directories. Refuses to write through a
 * symlink (even one inside the workspace: the change would land somewhere the model did not name), and
 * opens with O_NOFOLLOW so a link planted between the check and the write is not followed either.
 */
/**
 * Writes a file inside the workspace. `owner`: while a sandbox runs commands as another uid, files and
 * directories created here are given to it, so the agent's commands can change what its tools wrote.
 */
export async function writeTextAt(
  target: ConfinedPath,
  content: string | Buffer,
  owner?: { uid: number; gid: number },
): Promise<WriteResult> {
  if (target.rel === "")
    throw new ToolInputError("Give a file path, not the workspace root.", { code: "is_directory" });
  if (target.isSymlink) {
    throw new ToolInputError(
      `${target.rel} is a symlink to ${await readlink(target.lexical)}; writing through links is not allowed. Write to the file it points to instead.`,
      { code: "path_symlink" },
    );
  }
  const previous = await statAt(target.real);
  if (previous?.isDirectory()) {
    throw new ToolInputError(`${target.rel} is a directory; give a file path.`, { code: "is_directory" });
  }
  // Private like the rest of the workspace (see copy-repo.ts); git records only the executable bit.
  const firstCreatedDir = await mkdir(path.dirname(target.real), { recursive: true, mode: 0o700 });
  const bytes = typeof content === "string" ? Buffer.from(content, "utf8") : content;
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW;
  const handle = await open(target.real, flags, 0o600).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ELOOP") {
      throw new ToolInputError(`${target.rel} is a symlink; writing through links is not allowed.`, {
        code: "path_symlink",
      });
    }
    throw error;
  });
  try {
    await handle.writeFile(bytes);
    if (owner && !previous) await handle.chown(owner.uid, owner.gid);
  } finally {
    await handle.close();
  }
  if (owner && firstCreatedDir) {
    // Give every directory mkdir created, from the first one down to the file's parent.
    let dir = path.dirname(target.real);
    const created: string[] = [];
    while (dir.length >= firstCreatedDir.length) {
      created.push(dir);
      if (dir === firstCreatedDir) break;
      dir = path.dirname(dir);
    }
    for (const d of created) await chown(d, owner.uid, owner.gid);
  }
  return previous
    ? { path: target.rel, created: false, bytes: bytes.length, previousBytes: previous.size }
    : { path: target.rel, created: true, bytes: bytes.length };
}

export async function statInfo(target: ConfinedPath): Promise<WorkspaceStat | null> {
  const info = await lstat(target.lexical).catch(() => undefined);
  if (!info) return null;
  const type = info.isFile()
    ? "file"
    : info.isDirectory()
      ? "directory"
      : info.isSymbolicLink()
        ? "symlink"
        : "other";
  return { type, size: info.size, mode: info.mode & 0o7777, mtimeMs: info.mtimeMs };
}

async function statAt(file: string): Promise<Stats | undefined> {
  return lstat(file).catch(() => undefined);
}
