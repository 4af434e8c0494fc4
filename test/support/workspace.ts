/**
 * Helpers for tests that need a real git checkout and a real workspace in a temporary directory.
 * Not used by the engine.
 */
import { createHash } from "node:crypto";
import {
  chmod,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rm,
  symlink,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { runGit } from "../../src/workspace/git.ts";
import { Workspace } from "../../src/workspace/workspace.ts";

export type FixtureEntry = string | Buffer | { symlink: string } | { content: string | Buffer; mode: number };

/** A user repository: `files` written and committed; `untracked` written but not added. */
export interface RepoFixture {
  files?: Record<string, FixtureEntry>;
  untracked?: Record<string, FixtureEntry>;
}

export async function tempDir(
  prefix = "entourage-test-",
): Promise<{ path: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  return { path: dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Git in a test checkout: hermetic, with an identity, like a user's git would have. */
export function testGit(repo: string, args: string[]) {
  return runGit(args, {
    cwd: repo,
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: repo,
      GIT_CONFIG_NOSYSTEM: "1",
      GIT_CONFIG_GLOBAL: "/dev/null",
      GIT_AUTHOR_NAME: "Test User",
      GIT_AUTHOR_EMAIL: "user@example.com",
      GIT_COMMITTER_NAME: "Test User",
      GIT_COMMITTER_EMAIL: "user@example.com",
    },
  });
}

export async function writeEntries(root: string, entries: Record<string, FixtureEntry>): Promise<void> {
  for (const [rel, entry] of Object.entries(entries)) {
    const file = path.join(root, rel);
    await mkdir(path.dirname(file), { recursive: true });
    if (typeof entry === "string" || Buffer.isBuffer(entry)) await writeFile(file, entry);
    else if ("symlink" in entry) await symlink(entry.symlink, file);
    else {
      await writeFile(file, entry.content);
      await chmod(file, entry.mode);
    }
  }
}

export async function createRepo(root: string, fixture: RepoFixture): Promise<string> {
  await mkdir(root, { recursive: true });
  await testGit(root, ["init", "-q", "--initial-branch=main"]);
  await writeEntries(root, fixture.files ?? {});
  await testGit(root, ["add", "-A"]);
  await testGit(root, ["commit", "-q", "--allow-empty", "-m", "initial"]);
  await writeEntries(root, fixture.untracked ?? {});
  return root;
}

export interface WorkspaceFixture {
  /** Holds everything; removed by `cleanup`. */
  base: string;
  repo: string;
  workspace: Workspace;
  cleanup: () => Promise<void>;
}

/** A committed repository under a temp dir and a workspace created from it (fixed clock). */
export async function createWorkspaceFixture(fixture: RepoFixture): Promise<WorkspaceFixture> {
  const base = await tempDir();
  try {
    const repo = await createRepo(path.join(base.path, "repo"), fixture);
    const workspace = await Workspace.create({
      repo,
      dir: path.join(base.path, "run", "workspace"),
      clock: () => 1_700_000_000_000,
    });
    return { base: base.path, repo, workspace, cleanup: base.cleanup };
  } catch (error) {
    await base.cleanup();
    throw error;
  }
}

/**
 * Everything about a directory tree a user could notice: kinds, permission bits, bytes, symlink
 * targets, and (unless `mtimes` is false) modification times. Equal digests mean untouched.
 */
export async function treeDigest(root: string, options: { mtimes?: boolean } = {}): Promise<string> {
  const lines: string[] = [];
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  const paths = entries.map((e) => path.join(e.parentPath, e.name)).sort();
  for (const file of paths) {
    const info = await lstat(file);
    const rel = path.relative(root, file);
    const mtime = options.mtimes === false ? "" : ` ${info.mtimeMs}`;
    if (info.isSymbolicLink()) lines.push(`${rel} link ${await readlink(file)}`);
    else if (info.isFile()) {
      const hash = createHash("sha1")
        .update(await readFile(file))
        .digest("hex");
      lines.push(`${rel} ${(info.mode & 0o7777).toString(8)} ${hash}${mtime}`);
    } else lines.push(`${rel} dir${mtime}`);
  }
  return lines.join("\n");
}
