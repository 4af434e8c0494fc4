import { writeFile } from "node:fs/promises";
import path from "node:path";
import { UserError } from "../core/index.ts";
import { isWithin } from "./confine.ts";
import { fetchFromShadowArgs, initShadowGit, runGit, type ShadowGitEnvOptions } from "./git.ts";

export interface CloneShadowOptions extends ShadowGitEnvOptions {
  /** The shadow git to copy from; only read. */
  fromGitDir: string;
  /** The snapshot the clone starts at. */
  commit: string;
  /** The baseline commit and the ref that names it. */
  baseRef: string;
  baselineRef: string;
  /**
   * Borrow the source's objects (git alternates) instead of fetching a copy: no pack is made, so the
   * clone is ready in a few milliseconds, but it needs the source's shadow git to stay where it is.
   * For the short-lived copies of parallel agents, which are merged back into that same source.
   */
  shareObjects?: boolean;
}

/**
 * Makes a new shadow git in `gitDir` holding the history up to `commit` — its own copy of the objects,
 * fetched as one pack, so it does not depend on the source being kept — and writes that snapshot's
 * files into the empty work tree (bytes, executable bits, symlinks) with the index to match.
 */
export async function cloneShadow(options: CloneShadowOptions): Promise<void> {
  const env = await initShadowGit(options);
  const cwd = options.workTree;
  if (options.shareObjects) {
    const alternates = path.join(options.gitDir, "objects", "info", "alternates");
    await writeFile(alternates, `${path.join(options.fromGitDir, "objects")}\n`, { mode: 0o600 });
    const refs = `update refs/heads/main ${options.commit}\nupdate ${options.baselineRef} ${options.baseRef}\n`;
    await runGit(["update-ref", "--stdin"], { env, cwd, input: refs });
  } else {
    const refspecs = [`+${options.commit}:refs/heads/main`, `+${options.baseRef}:${options.baselineRef}`];
    // HEAD names the still unborn main branch, which fetch updates only when told it may.
    await runGit(fetchFromShadowArgs(options.fromGitDir, refspecs, ["--update-head-ok"]), { env, cwd });
  }
  await runGit(["reset", "-q", "--hard", "HEAD"], { env, cwd });
}

/** A clone's directories must be new places, apart from each other, the source and the user's checkout. */
export function checkCloneLayout(
  source: { repo: string; dir: string; gitDir: string },
  dir: string,
  gitDir: string,
): void {
  for (const [what, place] of [
    ["workspace", dir],
    ["shadow git", gitDir],
  ] as const) {
    for (const [whose, existing] of [
      ["your checkout", source.repo],
      ["the workspace being cloned", source.dir],
      ["its shadow git", source.gitDir],
    ] as const) {
      if (isWithin(existing, place) || isWithin(place, existing)) {
        throw new UserError(
          "clone_overlaps",
          `The clone's ${what} directory ${place} overlaps ${whose} (${existing}). Choose a new run directory.`,
        );
      }
    }
  }
  if (isWithin(dir, gitDir) || isWithin(gitDir, dir)) {
    throw new UserError(
      "workspace_layout",
      `The shadow git ${gitDir} must not be inside the workspace ${dir}.`,
    );
  }
}

/** A new workspace and its shadow git must be outside the user's checkout, and the shadow git outside the copy. */
export function checkCreateLayout(repo: string, dir: string, gitDir: string): void {
  for (const [what, place] of [
    ["workspace", dir],
    ["shadow git", gitDir],
  ] as const) {
    if (isWithin(repo, place) || isWithin(place, repo)) {
      throw new UserError(
        "workspace_inside_repo",
        `The ${what} directory ${place} overlaps your checkout ${repo}; Entourage never writes into your checkout. Choose a run directory outside it.`,
      );
    }
  }
  if (isWithin(dir, gitDir)) {
    throw new UserError(
      "workspace_layout",
      `The shadow git ${gitDir} must not be inside the workspace ${dir}.`,
    );
  }
}
