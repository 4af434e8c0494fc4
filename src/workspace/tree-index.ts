import { lstat, readdir } from "node:fs/promises";
import { decodePath } from "./path-bytes.ts";

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
  readonly #entries: Map<string, string>;
  /** Some entry was changed too close to the walk to be trusted (see RACY_MARGIN_NS). */
  readonly racy: boolean;
  /** Files, symlinks and directories walked. */
  get size(): number {
    return this.#entries.size;
  }

  /** When the walk ended (ms since the epoch). */
  readonly #endMs: number;

  private constructor(entries: Map<string, string>, racy: boolean, endMs: number) {
    this.#entries = entries;
    this.racy = racy;
    this.#endMs = endMs;
  }

  /**
   * The same walk, no longer racy, for a caller that knows nothing wrote the tree since the walk began (a
   * copy just made, that no tool or sandbox has yet): resolves once the racy margin has passed since the
   * walk, after which any write gets a later ctime than every entry's, so it shows as a difference.
   */
  async settled(): Promise<TreeIndex> {
    const wait = this.#endMs + Number(RACY_MARGIN_NS / 1_000_000n) - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    return new TreeIndex(this.#entries, false, this.#endMs);
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
    let racy = false;
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
            racy = true;
            return;
          }
          if (info.isDirectory()) {
            entries.set(`${childRel}/`, "dir");
            await walk(childAbs, childRel);
            return;
          }
          if (info.ctimeNs >= startNs - RACY_MARGIN_NS) racy = true;
          entries.set(childRel, `${info.mode}:${info.size}:${info.ino}:${info.mtimeNs}:${info.ctimeNs}`);
        }),
      );
    };
    await walk(Buffer.from(dir), "");
    return new TreeIndex(entries, racy, Date.now());
  }

  /**
   * True when `other` saw the same files with the same stats but their ctimes, racy or not: what a chown
   * of every file leaves (it stamps ctimes), and a write would not (it moves the mtime).
   */
  sameButCtimes(other: TreeIndex): boolean {
    if (this.#entries.size !== other.#entries.size) return false;
    // "mode:size:ino:mtime:ctime", or "dir"
    const withoutCtime = (signature: string) => signature.replace(/:\d+$/, "");
    for (const [rel, signature] of this.#entries) {
      const theirs = other.#entries.get(rel);
      if (theirs === undefined || withoutCtime(theirs) !== withoutCtime(signature)) return false;
    }
    return true;
  }

  /** True when `other` (a later walk) saw exactly the same files with the same stats, and neither is racy. */
  matches(other: TreeIndex): boolean {
    if (this.racy || other.racy || this.#entries.size !== other.#entries.size) return false;
    for (const [rel, signature] of this.#entries) if (other.#entries.get(rel) !== signature) return false;
    return true;
  }
}
