import { SystemError } from "../core/index.ts";
import { type MakeCloneOptions, makeClone } from "./clone.ts";
import { runGitScript, type ShadowGitEnvOptions, shadowGitEnv } from "./git.ts";
import type { WorkspaceMeta } from "./workspace-meta.ts";

/** `reset --hard` in each shadow git given as `$1 $2 $3` triples (git dir, work tree, home), all at once. */
const CHECKOUTS_SCRIPT = `umask 077
pids=
while [ "$#" -ge 3 ]; do
  (cd "$2" && GIT_DIR="$1" GIT_WORK_TREE="$2" HOME="$3" XDG_CONFIG_HOME="$3" exec git reset -q --hard HEAD) &
  pids="$pids $!"
  shift 3
done
for p in $pids; do wait "$p"; echo "$?"; done`;

/**
 * `makeClone` with shared objects for each of `list` (the copies of one parallel delegation), their
 * checkouts run together by one `sh` once every copy's shadow git is laid out: one fork of Entourage for
 * all of them instead of one each (a fork holds its main thread 2–3 ms at ~140 MiB, more under load).
 * Every copy is made or has failed before this returns; the first failure is thrown.
 */
export async function makeSharedClones(list: readonly MakeCloneOptions[]): Promise<WorkspaceMeta[]> {
  const waiting: { shadow: ShadowGitEnvOptions; done: (error?: unknown) => void }[] = [];
  let left = list.length;
  const arrived = () => {
    left -= 1;
    if (left > 0 || waiting.length === 0) return;
    const batch = waiting.splice(0);
    checkoutAll(batch.map((w) => w.shadow)).then(
      (errors) => {
        for (const [i, w] of batch.entries()) w.done(errors[i]);
      },
      (error: unknown) => {
        for (const w of batch) w.done(error);
      },
    );
  };
  const made = await Promise.allSettled(
    list.map(async (options) => {
      let queued = false;
      const checkout = (shadow: ShadowGitEnvOptions) =>
        new Promise<void>((resolve, reject) => {
          queued = true;
          waiting.push({ shadow, done: (error) => (error === undefined ? resolve() : reject(error)) });
          arrived();
        });
      try {
        return await makeClone({ ...options, shareObjects: true, checkout });
      } finally {
        if (!queued) arrived(); // failed before its checkout: the others need not wait for it
      }
    }),
  );
  const failed = made.find((r) => r.status === "rejected");
  if (failed) throw failed.reason;
  return made.map((r) => (r as PromiseFulfilledResult<WorkspaceMeta>).value);
}

/** Runs the checkouts; the error of each that failed, by position. */
async function checkoutAll(shadows: readonly ShadowGitEnvOptions[]): Promise<(SystemError | undefined)[]> {
  const args = shadows.flatMap((s) => [s.gitDir, s.workTree, s.home]);
  const result = await runGitScript("git reset --hard (copies)", CHECKOUTS_SCRIPT, args, {
    env: shadowGitEnv(shadows[0]!),
    cwd: shadows[0]!.workTree,
  });
  const codes = result.stdout.toString().trim().split("\n").map(Number);
  return shadows.map((s, i) =>
    codes[i] === 0
      ? undefined
      : new SystemError(
          "git_failed",
          `git reset --hard in ${s.workTree} failed (exit ${codes[i] ?? "unknown"}): ${result.stderr}`,
        ),
  );
}
