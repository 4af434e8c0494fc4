import { realpathSync, statSync } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";
import { ToolInputError, UserError } from "../../../core/index.ts";

/** True when `child` is `parent` or below it (both absolute and normalized). */
export function isWithin(parent: string, child: string): boolean {
  const rel = path.relative(parent, child);
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}

/** Host directories a workspace must never be, nor contain: mounting one read-write would expose the host. */
const FORBIDDEN = [
  "/bin",
  "/boot",
  "/dev",
  "/etc",
  "/home",
  "/lib",
  "/proc",
  "/root",
  "/run",
  "/sbin",
  "/sys",
  "/tmp",
  "/usr",
  "/var",
];

export interface WorkspacePaths {
  /** The path commands see (the spec's path, normalized): messages name the same files as the host. */
  path: string;
  /** The same directory with every symlink resolved: what is mounted and what confinement compares to. */
  real: string;
}

/**
 * Checks a spec's workspace: absolute, an existing directory, and not a system directory or an ancestor
 * of one (or of the user's home) — mounting `/home` read-write would hand every user's files to the agent.
 */
export function checkWorkspace(workspace: string): WorkspacePaths {
  if (!path.isAbsolute(workspace)) {
    throw new UserError(
      "sandbox_workspace",
      `The sandbox workspace must be an absolute path, got ${JSON.stringify(workspace)}.`,
    );
  }
  const normalized = path.resolve(workspace);
  let real: string;
  try {
    real = realpathSync(normalized);
    if (!statSync(real).isDirectory()) throw new Error("not a directory");
  } catch (error) {
    throw new UserError(
      "sandbox_workspace",
      `The sandbox workspace ${normalized} is not an existing directory.`,
      {
        cause: error,
      },
    );
  }
  const home = homedir();
  for (const candidate of new Set([normalized, real])) {
    const bad = [...FORBIDDEN, home].find((dir) => dir !== "/" && isWithin(candidate, dir));
    if (bad !== undefined) {
      throw new UserError(
        "sandbox_workspace",
        `Refusing ${candidate} as a sandbox workspace: it is or contains ${bad}, which must never be mounted into a sandbox. Use a directory made for the run.`,
      );
    }
  }
  return { path: normalized, real };
}

/**
 * Resolves a command's working directory, relative to the workspace (an absolute path inside it is
 * accepted too). Refuses `..` escapes and symlinks that lead outside; the directory must exist.
 * Returns the path as commands see it (under `paths.path`).
 */
export function resolveCwd(paths: WorkspacePaths, cwd: string | undefined): string {
  if (cwd === undefined || cwd === "" || cwd === ".") return paths.path;
  if (cwd.includes("\0"))
    throw new ToolInputError(`The working directory ${JSON.stringify(cwd)} contains a NUL byte.`);
  const lexical = path.isAbsolute(cwd) ? path.resolve(cwd) : path.resolve(paths.path, cwd);
  const viaReal = path.isAbsolute(cwd) && isWithin(paths.real, lexical) ? lexical : undefined;
  const base = viaReal !== undefined ? paths.real : paths.path;
  if (!isWithin(base, lexical)) {
    throw new ToolInputError(
      `The working directory ${JSON.stringify(cwd)} is outside the workspace. Use a directory relative to the workspace root, e.g. "src".`,
      { code: "path_escape" },
    );
  }
  const rel = path.relative(base, lexical);
  let real: string;
  try {
    real = realpathSync(path.join(paths.real, rel));
  } catch {
    throw new ToolInputError(
      `The working directory ${JSON.stringify(cwd)} does not exist in the workspace.`,
      {
        code: "path_missing",
      },
    );
  }
  if (!isWithin(paths.real, real)) {
    throw new ToolInputError(
      `The working directory ${JSON.stringify(cwd)} is a symlink that leads outside the workspace; commands cannot run there.`,
      { code: "path_escape" },
    );
  }
  if (!statSync(real).isDirectory()) {
    throw new ToolInputError(`The working directory ${JSON.stringify(cwd)} is not a directory.`, {
      code: "path_not_dir",
    });
  }
  return path.join(paths.path, path.relative(paths.real, real));
}
