import { SystemError } from "../core/index.ts";
import { parseRawNumstat, type RawChange } from "./changes.ts";
import { runGit, runGitScript, splitNul } from "./git.ts";
import { encodePath } from "./path-bytes.ts";

const LOG_MARKER = Buffer.from("\0entourage-snapshot-log\0");

/**
 * A snapshot's git calls in one process (`$1`: the label): exit 3 when `add` failed, 1 with commit's
 * "nothing to commit", 4 when commit failed otherwise; else the marker and the new commit's raw diff.
 */
const SNAPSHOT_SCRIPT = `git add -A || exit 3
git commit -q --no-verify --no-gpg-sign --allow-empty-message --untracked-files=no -m "$1"
s=$?
[ "$s" -eq 0 ] || { [ "$s" -eq 1 ] && exit 1; exit 4; }
printf '\\0entourage-snapshot-log\\0'
exec git log -1 --format=%H --raw --no-abbrev --no-renames -z HEAD`;

/**
 * `add -A`, `commit` and `log` of a snapshot as one `sh` script (see `runGitScript`): the new commit and
 * what it changed (paths, and the blobs that vouch for racy files), or null when git found nothing to
 * commit. Throws `snapshot_failed` with git's message otherwise.
 */
export async function commitSnapshot(
  label: string,
  git: { env: Record<string, string>; cwd: string },
): Promise<{ ref: string; raw: RawChange[] } | null> {
  const result = await runGitScript("snapshot", SNAPSHOT_SCRIPT, [label], {
    ...git,
    okExitCodes: [0, 1, 3, 4],
  });
  const marker = result.exitCode === 0 ? result.stdout.lastIndexOf(LOG_MARKER) : -1;
  if (result.exitCode === 1 && /nothing (added )?to commit/.test(result.stdout.toString())) return null;
  if (marker < 0) {
    throw new SystemError("snapshot_failed", `Could not snapshot the workspace ${git.cwd}: ${result.stderr}`);
  }
  // "<sha>\0\n:<modes> <ids> <status>\0<path>\0…"
  const [ref = "", ...tokens] = splitNul(result.stdout.subarray(marker + LOG_MARKER.length));
  const { raw } = parseRawNumstat(tokens.map((t) => t.replace(/^\n/, "")).filter((t) => t !== ""));
  return { ref, raw };
}

/**
 * Drops `paths` from git's index (not from the files), so that the next `add -A` reads them again: the
 * files a walk saw change that git's whole-second stat check would miss (`TreeIndex.gitBlind`).
 */
export async function forgetInIndex(
  paths: readonly string[],
  git: { env: Record<string, string>; cwd: string },
): Promise<void> {
  if (paths.length === 0) return;
  const pathspecs = Buffer.concat(paths.flatMap((p) => [encodePath(p), Buffer.from([0])]));
  const rm = ["rm", "--cached", "-q", "--ignore-unmatch", "--pathspec-from-file=-", "--pathspec-file-nul"];
  await runGit(["--literal-pathspecs", ...rm], { ...git, input: pathspecs });
}
