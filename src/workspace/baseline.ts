import { lstat, readFile, readlink } from "node:fs/promises";
import { runGitScript, SHADOW_IDENTITY, writeChunk } from "./git.ts";
import { encodePath, fsPath } from "./path-bytes.ts";

/** Files read ahead of the stream; bounds memory while keeping the disk busy. */
const READ_AHEAD = 64;

export interface BaselineOptions {
  /** The workspace (work tree) holding the copied files. */
  dir: string;
  /** Every copied path: files and symlinks. */
  paths: string[];
  env: Record<string, string>;
  /** Unix ms of the baseline commit. */
  time: number;
  message: string;
  /** Another ref the stream points at the baseline commit too (no `update-ref` afterwards). */
  alsoRef: string;
}

/**
 * Records the copied files as the first commit of the shadow git with one `git fast-import` stream,
 * which writes a single pack instead of one loose object file per file (`git add` of 1,000 files
 * spends most of its time creating files), then builds the index from it. Every listed path is
 * committed, including files the project's .gitignore matches but the user tracks anyway. Two git
 * processes, started by one `sh`: `fast-import` writes the pack, the commit, `main` and `alsoRef`; `reset`
 * builds the index.
 */
export async function commitBaseline(options: BaselineOptions): Promise<void> {
  const { dir, env } = options;
  const date = `${Math.floor(options.time / 1000)} +0000`;
  const ident = `${SHADOW_IDENTITY.name} <${SHADOW_IDENTITY.email}> ${date}`;
  const message = Buffer.from(options.message);
  // A pack whatever the size: below fastimport.unpackLimit (100 objects) git would start `unpack-objects`
  // to turn a small import into loose files, one process more. Then the index = the baseline tree, with
  // stat data refreshed from the files on disk. Both in one `sh` (one fork of Entourage, not two).
  await runGitScript("baseline", BASELINE_SCRIPT, [], {
    env,
    cwd: dir,
    input: async (stdin) => {
      await writeChunk(
        stdin,
        `commit refs/heads/main\nmark :1\nauthor ${ident}\ncommitter ${ident}\ndata ${message.length}\n`,
      );
      await writeChunk(stdin, Buffer.concat([message, Buffer.from("\n")]));
      for (let at = 0; at < options.paths.length; at += READ_AHEAD) {
        const batch = options.paths.slice(at, at + READ_AHEAD);
        const entries = await Promise.all(batch.map((rel) => readEntry(dir, rel)));
        for (const [i, entry] of entries.entries()) {
          // The path as its own bytes: a name that is not UTF-8 is committed under that name.
          const header = `M ${entry.mode} inline ${quotePath(batch[i]!)}\ndata ${entry.data.length}\n`;
          await writeChunk(stdin, encodePath(header));
          await writeChunk(stdin, entry.data);
          await writeChunk(stdin, "\n");
        }
      }
      // With --done, a stream cut short (a crash here) commits nothing.
      await writeChunk(stdin, `\nreset ${options.alsoRef}\nfrom :1\n\ndone\n`);
    },
  });
}

/** fast-import reads the stream on the script's stdin; `reset` runs only once it committed. */
const BASELINE_SCRIPT = `git -c fastimport.unpackLimit=0 fast-import --quiet --done || exit
exec git reset -q`;

async function readEntry(dir: string, rel: string): Promise<{ mode: string; data: Buffer }> {
  const file = fsPath(dir, rel);
  const info = await lstat(file);
  if (info.isSymbolicLink()) return { mode: "120000", data: await readlink(file, { encoding: "buffer" }) };
  return { mode: info.mode & 0o100 ? "100755" : "100644", data: await readFile(file) };
}

/** fast-import takes a path verbatim unless it contains a newline or starts with a quote. */
export function quotePath(rel: string): string {
  if (!rel.includes("\n") && !rel.startsWith('"')) return rel;
  return `"${rel.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n")}"`;
}
