/**
 * A unified diff (git's format) parsed into files, hunks and lines, and paired into rows for the side-by-side
 * view. Pure, so it is tested without a browser.
 */

export interface DiffLine {
  kind: "context" | "add" | "del" | "note";
  text: string;
  oldNo?: number;
  newNo?: number;
}

export interface DiffHunk {
  header: string;
  lines: DiffLine[];
}

export interface DiffFile {
  oldPath: string;
  newPath: string;
  /** The path to show: the new one, or the old one for a deletion. */
  path: string;
  status: "added" | "deleted" | "modified";
  binary: boolean;
  hunks: DiffHunk[];
  additions: number;
  deletions: number;
}

const unquote = (p: string) => (p.startsWith('"') && p.endsWith('"') ? p.slice(1, -1) : p);
const stripPrefix = (p: string) => unquote(p).replace(/^[ab]\//, "");

export function parseUnifiedDiff(text: string): DiffFile[] {
  const files: DiffFile[] = [];
  let file: DiffFile | undefined;
  let hunk: DiffHunk | undefined;
  let oldNo = 0;
  let newNo = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith("diff --git ")) {
      const m = /^diff --git (\S+|"[^"]+") (\S+|"[^"]+")$/.exec(line);
      const oldPath = m ? stripPrefix(m[1]!) : "";
      const newPath = m ? stripPrefix(m[2]!) : "";
      file = {
        oldPath,
        newPath,
        path: newPath || oldPath,
        status: "modified",
        binary: false,
        hunks: [],
        additions: 0,
        deletions: 0,
      };
      files.push(file);
      hunk = undefined;
      continue;
    }
    if (!file) continue;
    if (!hunk) {
      if (line.startsWith("new file mode")) file.status = "added";
      else if (line.startsWith("deleted file mode")) file.status = "deleted";
      else if (line.startsWith("--- ")) {
        if (line !== "--- /dev/null") file.oldPath = stripPrefix(line.slice(4));
      } else if (line.startsWith("+++ ")) {
        if (line !== "+++ /dev/null") file.newPath = stripPrefix(line.slice(4));
        file.path = file.status === "deleted" ? file.oldPath : file.newPath;
      } else if (line.startsWith("Binary files ")) file.binary = true;
    }
    const header = /^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@(.*)$/.exec(line);
    if (header) {
      hunk = { header: line, lines: [] };
      file.hunks.push(hunk);
      oldNo = Number(header[1]);
      newNo = Number(header[2]);
      continue;
    }
    if (!hunk) continue;
    if (line.startsWith("+")) {
      hunk.lines.push({ kind: "add", text: line.slice(1), newNo: newNo++ });
      file.additions += 1;
    } else if (line.startsWith("-")) {
      hunk.lines.push({ kind: "del", text: line.slice(1), oldNo: oldNo++ });
      file.deletions += 1;
    } else if (line.startsWith(" ")) {
      hunk.lines.push({ kind: "context", text: line.slice(1), oldNo: oldNo++, newNo: newNo++ });
    } else if (line.startsWith("\\")) {
      hunk.lines.push({ kind: "note", text: line });
    }
  }
  return files;
}

export interface SplitRow {
  left?: DiffLine;
  right?: DiffLine;
}

/** Pairs a hunk's lines for side by side: a run of deletions faces the run of additions after it. */
export function splitRows(hunk: DiffHunk): SplitRow[] {
  const rows: SplitRow[] = [];
  let dels: DiffLine[] = [];
  let adds: DiffLine[] = [];
  const flush = () => {
    for (let i = 0; i < Math.max(dels.length, adds.length); i++) rows.push({ left: dels[i], right: adds[i] });
    dels = [];
    adds = [];
  };
  for (const line of hunk.lines) {
    if (line.kind === "del") {
      if (adds.length > 0) flush();
      dels.push(line);
    } else if (line.kind === "add") adds.push(line);
    else {
      flush();
      rows.push(line.kind === "note" ? { left: line } : { left: line, right: line });
    }
  }
  flush();
  return rows;
}

/** The highlight.js language for a file name, or undefined for plain text. */
export function languageOf(path: string): string | undefined {
  const name = path.split("/").pop()?.toLowerCase() ?? "";
  if (name === "dockerfile") return "dockerfile";
  if (name === "makefile") return "makefile";
  const ext = name.includes(".") ? name.split(".").pop()! : "";
  const byExt: Record<string, string> = {
    js: "javascript",
    mjs: "javascript",
    cjs: "javascript",
    jsx: "javascript",
    ts: "typescript",
    mts: "typescript",
    cts: "typescript",
    tsx: "typescript",
    json: "json",
    py: "python",
    go: "go",
    rs: "rust",
    java: "java",
    kt: "kotlin",
    c: "c",
    h: "c",
    cc: "cpp",
    cpp: "cpp",
    hpp: "cpp",
    cs: "csharp",
    rb: "ruby",
    php: "php",
    sh: "bash",
    bash: "bash",
    zsh: "bash",
    css: "css",
    scss: "scss",
    html: "xml",
    xml: "xml",
    svg: "xml",
    md: "markdown",
    yml: "yaml",
    yaml: "yaml",
    toml: "ini",
    ini: "ini",
    sql: "sql",
    swift: "swift",
  };
  return byExt[ext];
}
