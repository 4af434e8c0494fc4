import { realpathSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { ToolInputError } from "../core/index.ts";
import type { Sandbox } from "../sandbox/index.ts";
import { mapAbsolutePath, type PathRoot, type Workspace } from "../workspace/index.ts";

/**
 * The argument shapes a tool accepts besides its schema, declared in `defineTool` and applied by the
 * wrapper before validation (`normalizeArguments`). Each adjustment is reported to the model.
 */
export interface ArgumentForms {
  /** Other names models use for a field, canonical name → aliases: `{ path: ["file_path", "file"] }`. */
  aliases?: Record<string, readonly string[]>;
  /**
   * Fields holding a workspace path: an absolute path inside the workspace, the user's repository or the
   * sandbox's view of the workspace becomes the workspace-relative one; any other absolute path is refused.
   */
  paths?: readonly string[];
  /** Fields holding a shell command line: an argv array is joined with shell quoting. */
  commands?: readonly string[];
  /**
   * Fields the tool does not have whose silent omission would change what the call does (write_file's
   * `append`), field → what to do instead. They are refused; any other unknown field is ignored with a note.
   */
  refused?: Record<string, string>;
}

/** Names models commonly use for a file path (Claude Code, opencode, gemini-cli, Anthropic's text editor). */
export const PATH_ALIASES = [
  "file_path",
  "filepath",
  "filePath",
  "filename",
  "file",
  "absolute_path",
] as const;

/** Where absolute paths may point: built from the run's workspace and sandbox (see `pathRoots`). */
export interface PrepareContext {
  workspace: Pick<Workspace, "dir" | "repo">;
  sandbox?: Pick<Sandbox, "spec">;
}

/**
 * The directories an absolute path may be given under, deepest first when they nest: the run's copy, the
 * user's checkout (prompts and outputs name it) and the path commands see it at (`SandboxSpec.workspace`;
 * every backend mounts the workspace there). Each also under its real path, when that differs.
 */
export function pathRoots(context: PrepareContext): PathRoot[] {
  const candidates: PathRoot[] = [
    { dir: context.workspace.dir, name: "the workspace" },
    { dir: context.workspace.repo, name: "the repository" },
  ];
  const view = context.sandbox?.spec.workspace;
  if (view) candidates.push({ dir: view, name: "the sandbox's workspace" });
  const roots: PathRoot[] = [];
  for (const candidate of candidates) {
    const dirs = [path.resolve(candidate.dir)];
    try {
      dirs.push(realpathSync(dirs[0]!));
    } catch {
      // A root that does not exist (yet) still names paths lexically.
    }
    for (const dir of dirs) if (!roots.some((r) => r.dir === dir)) roots.push({ dir, name: candidate.name });
  }
  return roots;
}

export type NormalizedArguments =
  | { ok: true; args: unknown; notes: string[] }
  | { ok: false; message: string };

/**
 * Rewrites what a model sent into the shape the tool's schema expects, and says what it changed: aliases
 * become canonical names, absolute paths inside the workspace become relative (when `roots` is given),
 * an argv array becomes a command line, `"true"`/`"42"` become a boolean/number where the schema wants one,
 * and unknown fields are dropped with a note. Pure apart from the roots; the schema validates afterwards.
 */
export function normalizeArguments(
  toolName: string,
  input: z.ZodType,
  forms: ArgumentForms | undefined,
  args: unknown,
  roots?: readonly PathRoot[],
): NormalizedArguments {
  if (args === null || typeof args !== "object" || Array.isArray(args)) return { ok: true, args, notes: [] };
  const out: Record<string, unknown> = { ...(args as Record<string, unknown>) };
  const notes: string[] = [];

  for (const [canonical, aliases] of Object.entries(forms?.aliases ?? {})) {
    for (const alias of aliases) {
      if (!(alias in out)) continue;
      const value = out[alias];
      delete out[alias];
      if (canonical in out) {
        if (JSON.stringify(out[canonical]) !== JSON.stringify(value)) {
          return {
            ok: false,
            message: `${toolName} got both ${canonical} and ${alias} (another name for it) with different values. Send only ${canonical}.`,
          };
        }
        continue;
      }
      out[canonical] = value;
      notes.push(`took ${alias} as ${canonical}`);
    }
  }

  for (const field of forms?.commands ?? []) {
    const value = out[field];
    if (!Array.isArray(value) || value.length === 0 || !value.every((part) => typeof part === "string"))
      continue;
    const argv = value as string[];
    // `["bash", "-lc", "npm test"]` (Codex-style) means the script itself.
    const script =
      argv.length === 3 && /^(ba|z)?sh$/.test(path.basename(argv[0]!)) && /^-l?c$/.test(argv[1]!)
        ? argv[2]!
        : undefined;
    out[field] = script ?? argv.map(shellQuote).join(" ");
    notes.push(`${field} was a list; ran it as \`${out[field]}\``);
  }

  if (roots && roots.length > 0) {
    for (const field of forms?.paths ?? []) {
      const value = out[field];
      if (typeof value !== "string" || !path.isAbsolute(value)) continue;
      try {
        const mapped = mapAbsolutePath(value, roots);
        out[field] = mapped.rel;
        notes.push(`used ${field} ${mapped.rel} (given as ${value}, inside ${mapped.root.name})`);
      } catch (error) {
        if (ToolInputError.isInstance(error)) return { ok: false, message: error.message };
        throw error;
      }
    }
  }

  const shape = objectShape(input);
  if (shape) {
    for (const [field, value] of Object.entries(out)) {
      const schema = shape[field];
      if (schema === undefined) {
        const refusal = forms?.refused?.[field];
        if (refusal !== undefined) {
          return { ok: false, message: `${toolName} has no ${field} argument. ${refusal}` };
        }
        delete out[field];
        notes.push(`ignored unknown argument ${field} (${toolName} takes ${Object.keys(shape).join(", ")})`);
        continue;
      }
      const coerced = coerceScalar(schema, value);
      if (coerced !== undefined) {
        out[field] = coerced;
        notes.push(`read ${field} ${JSON.stringify(value)} as ${String(coerced)}`);
      }
    }
  }
  return { ok: true, args: out, notes };
}

/** One argv word for bash: bare when it has no special characters, otherwise single-quoted. */
export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** The fields of a plain (stripping) object schema; undefined for anything else, which is left alone. */
function objectShape(schema: z.ZodType): Record<string, z.ZodType> | undefined {
  if (!(schema instanceof z.ZodObject)) return undefined;
  if (schema._zod.def.catchall !== undefined) return undefined;
  return schema.shape as Record<string, z.ZodType>;
}

/** `"true"` for a boolean field, `"42"` for a number field: the value meant, or undefined to leave it. */
function coerceScalar(schema: z.ZodType, value: unknown): boolean | number | undefined {
  if (typeof value !== "string") return undefined;
  let inner = schema;
  while (inner instanceof z.ZodOptional || inner instanceof z.ZodDefault || inner instanceof z.ZodNullable)
    inner = inner._zod.def.innerType as z.ZodType;
  if (inner instanceof z.ZodBoolean && (value === "true" || value === "false")) return value === "true";
  if (inner instanceof z.ZodNumber && /^-?\d+(\.\d+)?$/.test(value.trim())) return Number(value);
  return undefined;
}
