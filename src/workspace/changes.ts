import { createHash } from "node:crypto";

/** Two points to compare. `from` defaults to the baseline; `to` to the current files on disk. */
export interface DiffRange {
  from?: string;
  to?: string;
}

export type ChangeStatus = "added" | "modified" | "deleted";

/** One path of a diff in git's raw form: modes and blob ids on both sides. */
export interface RawChange {
  path: string;
  status: ChangeStatus;
  /** `100644`, `100755`, `120000` (symlink), `160000` (submodule) or `000000` when absent. */
  oldMode: string;
  newMode: string;
  oldBlob: string;
  newBlob: string;
}

export interface FileChange {
  path: string;
  status: ChangeStatus;
  /** No line counts: git considers the content binary. */
  binary?: boolean;
}

/** What a diff amounts to; the shape of the `diff.ready` event's data. */
export interface ChangeSummary {
  files: FileChange[];
  insertions: number;
  deletions: number;
}

const ABSENT_MODE = "000000";

function statusOf(letter: string): ChangeStatus {
  if (letter === "A") return "added";
  if (letter === "D") return "deleted";
  return "modified"; // M, and T (type change: file ↔ symlink)
}

/**
 * Parses `git diff --raw -z --no-renames` output, optionally followed by `--numstat` records (git
 * prints the raw section first). Returns the raw changes and the per-path line counts.
 */
export function parseRawNumstat(tokens: string[]): {
  raw: RawChange[];
  numstat: Map<string, { insertions: number; deletions: number } | "binary">;
} {
  const raw: RawChange[] = [];
  const numstat = new Map<string, { insertions: number; deletions: number } | "binary">();
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (token.startsWith(":")) {
      const [oldMode, newMode, oldBlob, newBlob, letter] = token.slice(1).split(" ");
      const file = tokens[++i] ?? "";
      raw.push({
        path: file,
        status: statusOf(letter ?? "M"),
        oldMode: oldMode ?? ABSENT_MODE,
        newMode: newMode ?? ABSENT_MODE,
        oldBlob: oldBlob ?? "",
        newBlob: newBlob ?? "",
      });
      continue;
    }
    const match = /^(-|\d+)\t(-|\d+)\t(.*)$/s.exec(token);
    if (!match) continue;
    const [, added, deleted, file] = match;
    numstat.set(file!, added === "-" ? "binary" : { insertions: Number(added), deletions: Number(deleted) });
  }
  return { raw, numstat };
}

/** Folds raw changes and line counts into the summary views and events show. */
export function summarize(parsed: ReturnType<typeof parseRawNumstat>): ChangeSummary {
  let insertions = 0;
  let deletions = 0;
  const files: FileChange[] = [];
  for (const change of parsed.raw) {
    const counts = parsed.numstat.get(change.path);
    const file: FileChange = { path: change.path, status: change.status };
    if (counts === "binary") file.binary = true;
    else if (counts) {
      insertions += counts.insertions;
      deletions += counts.deletions;
    }
    files.push(file);
  }
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { files, insertions, deletions };
}

/** The id git gives `content` as a blob (SHA-1 object format): lets apply compare without running git. */
export function gitBlobId(content: Buffer | string): string {
  const bytes = typeof content === "string" ? Buffer.from(content) : content;
  return createHash("sha1").update(`blob ${bytes.length}\0`).update(bytes).digest("hex");
}

/** Parses `git cat-file --batch` output into blob contents by id. */
export function parseCatFileBatch(output: Buffer): Map<string, Buffer> {
  const blobs = new Map<string, Buffer>();
  let at = 0;
  while (at < output.length) {
    const newline = output.indexOf(0x0a, at);
    if (newline < 0) break;
    const header = output.subarray(at, newline).toString("utf8");
    const [id, type, size] = header.split(" ");
    if (type === "missing" || size === undefined) {
      at = newline + 1;
      continue;
    }
    const start = newline + 1;
    const end = start + Number(size);
    blobs.set(id!, output.subarray(start, end));
    at = end + 1; // content is followed by a newline
  }
  return blobs;
}
