import { lstatSync, readlinkSync, realpathSync } from "node:fs";
import path from "node:path";
import { ToolInputError } from "../core/index.ts";

export interface ConfinedPath {
  /** Workspace-relative, normalized, `/`-separated; `""` for the root. */
  rel: string;
  /** `root/rel` without resolving anything: what the model named. */
  lexical: string;
  /** Absolute path with symlinks inside the workspace resolved: where reads and writes land. */
  real: string;
  /** The last component exists and is a symlink (to somewhere inside the workspace). */
  isSymlink: boolean;
}

/** True when `child` is `parent` or below it (both absolute and normalized). */
export function isWithin(parent: string, child: string): boolean {
  const rel = path.relative(parent, child);
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}

/**
 * Maps a model-supplied path to a place inside the workspace, or explains why not. `root` must be a
 * real path (no symlinks). Refuses absolute paths (the tool wrapper maps those inside the workspace first,
 * see `mapAbsolutePath`), `..` escapes, anything inside `.git`, and any path
 * whose existing components include a symlink that leads outside the workspace: host-side code never
 * follows a link the agent could have planted. Synchronous on purpose (a few lstat calls) so callers
 * can validate arguments before doing anything else.
 */
export function confine(root: string, input: string): ConfinedPath {
  if (input.includes("\0"))
    throw new ToolInputError(`The path ${JSON.stringify(input)} contains a NUL byte.`);
  if (path.isAbsolute(input)) {
    const inside = isWithin(root, path.normalize(input));
    throw new ToolInputError(
      inside
        ? `The path ${JSON.stringify(input)} is absolute. Use ${JSON.stringify(path.relative(root, path.normalize(input)) || ".")} instead: paths are relative to the workspace root (${root}).`
        : outsideMessage(input, root),
      { code: inside ? "path_absolute" : "path_outside" },
    );
  }
  const normalized = path.posix.normalize(input.replaceAll("\\", "/")).replace(/\/+$/, "");
  const rel = normalized === "." || normalized === "" ? "" : normalized;
  if (rel === ".." || rel.startsWith("../")) {
    throw new ToolInputError(
      `The path ${JSON.stringify(input)} leads outside the workspace. Use a path inside the project, relative to its root.`,
      { code: "path_escape" },
    );
  }
  const parts = rel === "" ? [] : rel.split("/");
  if (parts.some((p) => p.toLowerCase() === ".git")) {
    throw new ToolInputError(
      `The path ${JSON.stringify(input)} is inside .git, which tools may not read or write. Work with the project's files; the run keeps its own history.`,
      { code: "path_git" },
    );
  }

  let current = root;
  let isSymlink = false;
  for (let i = 0; i < parts.length; i++) {
    const next = path.join(current, parts[i]!);
    const shown = parts.slice(0, i + 1).join("/");
    const last = i === parts.length - 1;
    const stat = lstatSync(next, { throwIfNoEntry: false });
    if (!stat) {
      // Nothing further exists, so nothing further can be a symlink.
      current = path.join(current, ...parts.slice(i));
      isSymlink = false;
      break;
    }
    if (stat.isSymbolicLink()) {
      const target = symlinkTarget(next);
      if (!isWithin(root, target.path) || path.relative(root, target.path).split(path.sep).includes(".git")) {
        throw new ToolInputError(
          `${shown} is a symlink to ${readlinkSync(next)}, which is outside the workspace; tools do not follow it. Use a path inside the project instead.`,
          { code: "path_symlink_escape" },
        );
      }
      if (!target.exists) {
        if (!last) {
          throw new ToolInputError(`${shown} is a symlink to ${readlinkSync(next)}, which does not exist.`, {
            code: "not_found",
          });
        }
        current = next;
        isSymlink = true;
        break;
      }
      current = target.path;
      isSymlink = last;
      continue;
    }
    if (!last && !stat.isDirectory()) {
      throw new ToolInputError(
        `${shown} is a file, not a directory, so ${JSON.stringify(input)} cannot exist.`,
        {
          code: "not_found",
        },
      );
    }
    current = next;
    isSymlink = false;
  }
  return { rel, lexical: path.join(root, ...parts), real: current, isSymlink };
}

/** A directory under which an absolute path names a workspace file: the workspace, the user's checkout, … */
export interface PathRoot {
  /** Absolute, normalized. */
  dir: string;
  /** What it is, for the note the model reads: "the workspace", "the repository", "the sandbox". */
  name: string;
}

/** An absolute path turned into the workspace-relative one it stands for. */
export interface MappedPath {
  /** Workspace-relative, `/`-separated; `"."` for the root itself. */
  rel: string;
  /** The root the absolute path was under. */
  root: PathRoot;
}

/**
 * The workspace-relative path an absolute one stands for: models are trained to use absolute paths and see
 * several for the same files (the run's copy, the user's checkout in prompts, the sandbox's mount). The
 * mapping is lexical (`..` is resolved, symlinks are not followed, host-side or anywhere): `confine` then
 * checks the result inside the workspace as for any relative path. The deepest matching root wins.
 * Throws a ToolInputError (code `path_outside`) naming the workspace root when no root contains it.
 */
export function mapAbsolutePath(input: string, roots: readonly PathRoot[]): MappedPath {
  if (input.includes("\0"))
    throw new ToolInputError(`The path ${JSON.stringify(input)} contains a NUL byte.`);
  const normalized = path.normalize(input);
  const root = roots
    .filter((r) => isWithin(r.dir, normalized))
    .sort((a, b) => b.dir.length - a.dir.length)[0];
  if (!root) throw new ToolInputError(outsideMessage(input, roots[0]?.dir), { code: "path_outside" });
  const rel = path.relative(root.dir, normalized).split(path.sep).join("/");
  return { rel: rel === "" ? "." : rel, root };
}

function outsideMessage(input: string, workspaceRoot: string | undefined): string {
  const where = workspaceRoot ? ` (${workspaceRoot})` : "";
  return (
    `The path ${JSON.stringify(input)} is outside the workspace${where}; tools reach only the project's files. ` +
    `Use a path relative to the workspace root, e.g. "src/index.ts" (list_files shows what is there).`
  );
}

/** Where a symlink leads: its real path if the target exists, else the lexical resolution of its text. */
function symlinkTarget(link: string): { path: string; exists: boolean } {
  try {
    return { path: realpathSync(link), exists: true };
  } catch {
    return { path: path.resolve(path.dirname(link), readlinkSync(link)), exists: false };
  }
}
