import { lstat, readdir, readFile, readlink } from "node:fs/promises";
import { gitBlobId } from "./changes.ts";
import { decodePath, fsPath } from "./path-bytes.ts";

/**
 * A file whose ctime is this close to the walk (or after it) may be written again within the same
 * timestamp tick without its stat changing (git's "racily clean" problem); then the index cannot vouch
 * for it. Kernel ticks are at most 10 ms (HZ=100); newer kernels give fine-grained ctimes.
 */
const RACY_MARGIN_NS = 20_000_000n;
const SLASH = Buffer.from("/");
/**
 * A walk costs ~17 µs an entry (16,700 entries: ~280 ms on a loaded 2-core machine); the git processes a
 * diff takes, ~40 ms. Above this many entries, asking git is quicker than walking to avoid it.
 */
export const WALK_BEATS_GIT_ENTRIES = 2_000;

/**
 * The stat of every file and symlink of a workspace (not following links), as of one walk: what lets a
 * step that changed nothing skip its snapshot without starting git. Compared on mode, size, inode,
 * mtime and ctime — ctime catches writes that restore an old mtime (`cp -p`, `tar x`, `touch -d`), and
 * chmod, which the kernel stamps too. Ignored paths (dependency folders, build output: what git skips)
 * are not walked; a new ignored file shows up as a difference, which only costs a git run that finds
 * nothing. Paths are keys decoded like git's (`decodePath`), so names that are not UTF-8 count too.
 */
export class TreeIndex {
  readonly #dir: string;
  readonly #entries: Map<string, string>;
  /** Files changed too close to the walk for their stat to be trusted (see RACY_MARGIN_NS). */
  readonly #racy: ReadonlySet<string>;
  /** Something vanished while walking. */
  readonly #vanished: boolean;
  /** For racy files: the mode and blob id the snapshot after this walk committed (`vouch`). */
  readonly #vouched = new Map<string, string>();
  /** When the walk ended (ms since the epoch). */
  readonly #endMs: number;

  private constructor(
    dir: string,
    entries: Map<string, string>,
    racy: Set<string>,
    vanished: boolean,
    endMs: number,
  ) {
    this.#dir = dir;
    this.#entries = entries;
    this.#racy = racy;
    this.#vanished = vanished;
    this.#endMs = endMs;
  }

  /** Some entry was changed too close to the walk to be trusted by its stat alone. */
  get racy(): boolean {
    return this.#vanished || this.#racy.size > 0;
  }

  /** Files, symlinks and directories walked. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * Records what the snapshot taken after this walk committed for the paths it changed (git mode and
   * blob id): a racy file whose bytes still hash to that can be trusted by a later, quiet walk.
   */
  vouch(changes: readonly { path: string; newMode: string; newBlob: string }[]): void {
    for (const c of changes)
      if (this.#racy.has(c.path)) this.#vouched.set(c.path, `${c.newMode} ${c.newBlob}`);
  }

  /**
   * The same walk, no longer racy, for a caller that knows nothing wrote the tree since the walk began (a
   * copy just made, that no tool or sandbox has yet): resolves once the racy margin has passed since the
   * walk, after which any write gets a later ctime than every entry's, so it shows as a difference.
   */
  async settled(): Promise<TreeIndex> {
    const wait = this.#endMs + Number(RACY_MARGIN_NS / 1_000_000n) - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    return new TreeIndex(this.#dir, this.#entries, new Set(), this.#vanished, this.#endMs);
  }

  /**
   * Walks `dir`, skipping what `git ls-files --others --ignored --exclude-standard --directory` listed
   * (`ignored`): its files, and its directories that git collapsed (listed with nothing below them),
   * which are excluded as a whole — nothing inside can be re-included. A directory listed along with
   * some of its contents (`build/*` with `!build/keep.txt`) is walked.
   */
  static async build(dir: string, ignored: readonly string[]): Promise<TreeIndex> {
    const skip = new Set<string>();
    const sorted = [...ignored].sort();
    for (const [i, rel] of sorted.entries()) {
      if (!rel.endsWith("/")) skip.add(rel);
      else if (!sorted[i + 1]?.startsWith(rel)) skip.add(rel.slice(0, -1));
    }
    const startNs = BigInt(Date.now()) * 1_000_000n;
    const entries = new Map<string, string>();
    const racy = new Set<string>();
    let vanished = false;
    const walk = async (abs: Buffer, rel: string): Promise<void> => {
      const names = await readdir(abs, { encoding: "buffer" });
      await Promise.all(
        names.map(async (name) => {
          const childRel = rel === "" ? decodePath(name) : `${rel}/${decodePath(name)}`;
          if (skip.has(childRel)) return;
          const childAbs = Buffer.concat([abs, SLASH, name]);
          const info = await lstat(childAbs, { bigint: true }).catch((error: NodeJS.ErrnoException) => {
            if (error.code === "ENOENT") return undefined; // gone while walking: a change
            throw error;
          });
          if (!info) {
            vanished = true;
            return;
          }
          if (info.isDirectory()) {
            entries.set(`${childRel}/`, "dir");
            await walk(childAbs, childRel);
            return;
          }
          if (info.ctimeNs >= startNs - RACY_MARGIN_NS) racy.add(childRel);
          entries.set(childRel, `${info.mode}:${info.size}:${info.ino}:${info.mtimeNs}:${info.ctimeNs}`);
        }),
      );
    };
    await walk(Buffer.from(dir), "");
    return new TreeIndex(dir, entries, racy, vanished, Date.now());
  }

  /**
   * True when `other` saw the same files with the same stats but their ctimes, racy or not: what a chown
   * of every file leaves (it stamps ctimes), and a write would not (it moves the mtime).
   */
  sameButCtimes(other: TreeIndex): boolean {
    if (this.#vanished || other.#vanished || this.#entries.size !== other.#entries.size) return false;
    // "mode:size:ino:mtime:ctime", or "dir"
    const withoutCtime = (signature: string) => signature.replace(/:\d+$/, "");
    for (const [rel, signature] of this.#entries) {
      const theirs = other.#entries.get(rel);
      if (theirs === undefined || withoutCtime(theirs) !== withoutCtime(signature)) return false;
    }
    return true;
  }

  /**
   * Files `other` (a later walk) saw with another stat than this walk did, that git would still take for
   * unchanged: it compares whole seconds of mtime and ctime (and size, mode, inode), so a write that keeps
   * the size and puts the mtime back (`cp -p`, `touch -r`) within the same second is invisible to it, and
   * `add -A` would not read the file again. Its callers drop these from git's index first.
   */
  gitBlind(other: TreeIndex): string[] {
    const blind: string[] = [];
    for (const [rel, theirs] of other.#entries) {
      const mine = this.#entries.get(rel);
      if (mine === undefined || mine === theirs || theirs === "dir") continue;
      if (toSeconds(mine) === toSeconds(theirs)) blind.push(rel);
    }
    return blind;
  }

  /**
   * True when `other` (a later walk) saw exactly the same files with the same stats, and every file that
   * was racy here still holds the bytes and mode the snapshot vouched for — what git does for its racily
   * clean entries: look at the content. A file still racy in `other` (the same ctime, so racy here too)
   * is trusted only so, and `other` keeps the vouch: its bytes were read after `other`'s walk, so a later
   * quiet walk may compare against `other` as against this one.
   */
  async matches(other: TreeIndex): Promise<boolean> {
    if (this.#vanished || other.#vanished || this.#entries.size !== other.#entries.size) return false;
    for (const [rel, signature] of this.#entries) if (other.#entries.get(rel) !== signature) return false;
    for (const rel of other.#racy) if (!this.#vouched.has(rel)) return false;
    for (const rel of this.#racy) {
      const vouched = this.#vouched.get(rel);
      if (vouched === undefined || (await gitEntryOf(this.#dir, rel, this.#entries.get(rel)!)) !== vouched)
        return false;
    }
    for (const rel of other.#racy) other.#vouched.set(rel, this.#vouched.get(rel)!);
    return true;
  }

  /**
   * True when this walk, taken right after git wrote `written` into the files `before` walked (a merge
   * moving them from one commit to the next), shows exactly that: every other file with the stat `before`
   * saw (still vouched for where racy), every written file holding the mode and blob git wrote (read
   * now, after this walk), every deleted one gone. Then this walk stands for the new commit's files as if
   * it had been taken before a snapshot of them, and the written files racy in it are vouched for.
   * Directories are not compared: they hold no content, and git makes and removes them as it writes.
   */
  async holdsWritten(before: TreeIndex, written: readonly WrittenEntry[]): Promise<boolean> {
    if (this.#vanished || before.#vanished) return false;
    const wrote = new Map(written.map((c) => [c.path, c]));
    for (const [rel, signature] of before.#entries) {
      if (signature === "dir" || wrote.has(rel)) continue;
      if (this.#entries.get(rel) !== signature) return false;
      if (this.#racy.has(rel) && !before.#vouched.has(rel)) return false;
    }
    for (const [rel, signature] of this.#entries) {
      if (signature === "dir" || wrote.has(rel)) continue;
      if (!before.#entries.has(rel)) return false; // a file neither side knew: someone else wrote it
    }
    const vouches = new Map<string, string>();
    for (const c of written) {
      const signature = this.#entries.get(c.path);
      if (c.newMode === "000000") {
        if (signature !== undefined) return false;
        continue;
      }
      const entry = `${c.newMode} ${c.newBlob}`;
      if (signature === undefined || signature === "dir") return false;
      if ((await gitEntryOf(this.#dir, c.path, signature)) !== entry) return false;
      vouches.set(c.path, entry);
    }
    for (const rel of this.#racy) {
      const vouched = vouches.get(rel) ?? before.#vouched.get(rel);
      if (vouched !== undefined) this.#vouched.set(rel, vouched);
    }
    return true;
  }
}

/** A path git wrote into the work tree: the mode and blob it holds now, mode `000000` when deleted. */
export interface WrittenEntry {
  path: string;
  newMode: string;
  newBlob: string;
}

/** A stat signature ("mode:size:ino:mtimeNs:ctimeNs") as git compares it: times in whole seconds. */
function toSeconds(signature: string): string {
  const [mode, size, ino, mtime = "0", ctime = "0"] = signature.split(":");
  return `${mode}:${size}:${ino}:${BigInt(mtime) / 1_000_000_000n}:${BigInt(ctime) / 1_000_000_000n}`;
}

/** The git mode and blob id of the file at `rel` (stat signature `mode:…`), as `add` would record them. */
async function gitEntryOf(dir: string, rel: string, signature: string): Promise<string | undefined> {
  const mode = Number(signature.split(":")[0]);
  const file = fsPath(dir, rel);
  try {
    if ((mode & 0o170000) === 0o120000)
      return `120000 ${gitBlobId(await readlink(file, { encoding: "buffer" }))}`;
    return `${mode & 0o100 ? "100755" : "100644"} ${gitBlobId(await readFile(file))}`;
  } catch {
    return undefined; // gone or unreadable since the walk: not the same
  }
}
