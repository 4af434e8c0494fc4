/**
 * The checkouts of an eval task, made with git: the one its run starts from (the repository at
 * base_commit) and the fresh ones the judge tests in. None of them is the user's own checkout.
 */
import { execFile } from "node:child_process";
import { cp, mkdir, rm } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { SystemError, UserError } from "../../core/index.ts";
import type { EvalTask } from "./task-file.ts";

const execFileAsync = promisify(execFile);

/** Author of the base commit the harness makes for a plain directory (and of nothing else). */
const IDENTITY = ["-c", "user.name=entourage eval", "-c", "user.email=eval@localhost"];

/** The user's environment without GIT_* (nothing redirects git), never prompting for credentials. */
function gitEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith("GIT_")) env[key] = value;
  return { ...env, GIT_TERMINAL_PROMPT: "0", GIT_CONFIG_NOSYSTEM: "1" };
}

async function git(args: string[], options: { cwd?: string; input?: string } = {}): Promise<string> {
  try {
    const child = execFileAsync("git", args, {
      cwd: options.cwd,
      env: gitEnv(),
      maxBuffer: 256 * 1024 * 1024,
      encoding: "utf8",
    });
    if (options.input !== undefined) child.child.stdin?.end(options.input);
    return (await child).stdout;
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === "ENOENT") throw new UserError("git_not_found", "git is not installed or not on PATH.");
    throw new SystemError(
      "git_failed",
      `git ${args.slice(0, 2).join(" ")} failed: ${(e.stderr ?? e.message).trim()}`,
      {
        cause: error,
      },
    );
  }
}

/**
 * The checkout the task's run starts from, in `dir` (new): the repository cloned and checked out at
 * base_commit (detached), or a plain directory's files committed as the base. Returns the base commit.
 */
export async function checkoutTask(task: EvalTask, dir: string): Promise<string> {
  await mkdir(path.dirname(dir), { recursive: true });
  if (task.repo.kind === "directory") {
    await cp(task.repo.path, dir, { recursive: true, filter: (src) => path.basename(src) !== ".git" });
    await git(["init", "-q", "-b", "main"], { cwd: dir });
    await git(["add", "-A"], { cwd: dir });
    await git([...IDENTITY, "commit", "-q", "--no-verify", "-m", `base of ${task.instanceId}`], { cwd: dir });
    return (await git(["rev-parse", "HEAD"], { cwd: dir })).trim();
  }
  await git(["clone", "-q", "--no-checkout", "--", task.repo.url, dir]).catch((error: unknown) => {
    throw new SystemError(
      "clone_failed",
      `${task.where}: cannot clone ${task.repo.kind === "git" ? task.repo.url : ""}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  });
  const base = await resolveCommit(dir, task.baseCommit ?? "HEAD", task);
  await git(["checkout", "-q", "--detach", base], { cwd: dir });
  return base;
}

async function resolveCommit(dir: string, ref: string, task: EvalTask): Promise<string> {
  try {
    return (await git(["rev-parse", "--verify", "--end-of-options", `${ref}^{commit}`], { cwd: dir })).trim();
  } catch (error) {
    throw new SystemError(
      "base_commit_missing",
      `${task.where}: base_commit ${ref} is not a commit of ${task.repo.kind === "git" ? task.repo.url : "the repository"}`,
      { cause: error },
    );
  }
}

/** A new checkout of `from` at `base` in `dir`: what the judge applies a change to and tests. */
export async function freshCheckout(from: string, base: string, dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  await git(["clone", "-q", "--no-checkout", "--", from, dir]);
  await git(["checkout", "-q", "--detach", base], { cwd: dir });
}

/**
 * Applies the task's test patch (the tests that judge it, which the run never saw) to `dir`, as SWE-bench's
 * harness does: every file it touches is first put back as it was at `base`, so a change that edited those
 * tests cannot make them pass. Throws (with git's reason) when the patch does not apply.
 */
export async function applyTestPatch(dir: string, base: string, patch: string): Promise<void> {
  const input = patch.endsWith("\n") ? patch : `${patch}\n`;
  const listed = await git(["apply", "--numstat", "-z", "-"], { cwd: dir, input });
  for (const file of patchedFiles(listed)) {
    const atBase = await git(["cat-file", "-e", `${base}:${file}`], { cwd: dir }).then(
      () => true,
      () => false,
    );
    if (atBase) await git(["checkout", "-q", base, "--", file], { cwd: dir });
    else await rm(path.join(dir, file), { force: true, recursive: true });
  }
  await git(["apply", "--whitespace=nowarn", "-"], { cwd: dir, input });
}

/** Paths in `git apply --numstat -z` output: `added\tdeleted\tpath\0`, or for a rename `a\td\t\0from\0to\0`. */
export function patchedFiles(numstat: string): string[] {
  const parts = numstat.split("\0");
  const files: string[] = [];
  for (let i = 0; i < parts.length; i++) {
    const fields = parts[i]!.split("\t");
    if (fields.length < 3) continue;
    const name = fields.slice(2).join("\t");
    if (name !== "") files.push(name);
    else {
      files.push(parts[i + 1]!, parts[i + 2]!);
      i += 2;
    }
  }
  return files.filter((f) => f !== undefined && f !== "");
}
