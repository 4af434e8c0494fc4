/**
 * The task file of `entourage eval`: JSONL (one task per line, as SWE-bench ships it) or one JSON array.
 * Each task is a repository at a commit, a request, and the tests that must go from failing to passing.
 * Every mistake is reported with the file and line it is on ("tasks.jsonl:3: FAIL_TO_PASS: expected array").
 */
import { existsSync, statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { ORCHESTRATION_MODES, type OrchestrationMode, UserError } from "../../core/index.ts";
import { checkTestTemplate } from "./test-template.ts";

/** SWE-bench stores the test lists as JSON text inside the JSONL; both that and a real array are read. */
const testIds = z.preprocess(
  (value) => {
    if (typeof value !== "string") return value;
    try {
      return JSON.parse(value);
    } catch {
      return value; // reported as "expected array, received string"
    }
  },
  z.array(z.string().trim().min(1, "a test id is empty")),
);

const taskSchema = z.object({
  instance_id: z.string().trim().min(1, "must not be empty"),
  repo: z.string().trim().min(1, "must not be empty"),
  base_commit: z.string().trim().min(1, "must not be empty").optional(),
  problem_statement: z.string().trim().min(1, "must not be empty"),
  FAIL_TO_PASS: testIds.pipe(z.array(z.string()).min(1, "at least one test must go from failing to passing")),
  PASS_TO_PASS: testIds.optional(),
  test_command: z.string().trim().min(1, "must not be empty").optional(),
  test_patch: z.string().optional(),
  setup_command: z.string().trim().min(1, "must not be empty").optional(),
  mode: z.enum(ORCHESTRATION_MODES).optional(),
  model: z.string().trim().min(1, "must not be empty").optional(),
});

/** Fields SWE-bench (Lite, Verified) carries that the harness reads no further: accepted silently. */
const SWE_BENCH_EXTRA = new Set([
  "patch",
  "hints_text",
  "created_at",
  "version",
  "environment_setup_commit",
  "difficulty",
]);

/** Where a task's repository comes from. */
export type TaskRepo =
  | { kind: "git"; url: string }
  /** A plain directory (not a git checkout): its files are committed as the base. */
  | { kind: "directory"; path: string };

export interface EvalTask {
  instanceId: string;
  /** `file:line` of the task, for messages. */
  where: string;
  repo: TaskRepo;
  /** As given; absent: the repository's HEAD (a plain directory has none). */
  baseCommit?: string;
  problemStatement: string;
  failToPass: string[];
  passToPass: string[];
  /** The judge's test command template (test-template.ts); the task's own, else `--test-command`. */
  testCommand: string;
  testPatch?: string;
  setupCommand?: string;
  mode?: OrchestrationMode;
  model?: string;
}

export interface TaskFile {
  file: string;
  tasks: EvalTask[];
  /** Fields nobody reads (typos, other benchmarks' extras), reported once each so nothing is dropped silently. */
  warnings: string[];
}

/**
 * Reads and validates a task file. `defaults.testCommand` stands in for tasks without `test_command`
 * (SWE-bench has none). Throws a UserError listing every problem found, each with its line.
 */
export async function readTaskFile(file: string, defaults: { testCommand?: string } = {}): Promise<TaskFile> {
  const text = await readFile(file, "utf8").catch((error: NodeJS.ErrnoException) => {
    throw new UserError(
      "task_file_unreadable",
      `Cannot read the task file ${file}: ${error.code === "ENOENT" ? "no such file" : error.message}.`,
    );
  });
  const name = path.basename(file);
  const entries = text.trimStart().startsWith("[") ? jsonArrayEntries(text, name) : jsonlEntries(text, name);
  const problems: string[] = [];
  const warnings: string[] = [];
  const tasks: EvalTask[] = [];
  const seen = new Map<string, number>();
  if (defaults.testCommand) problems.push(...templateProblems(defaults.testCommand, "--test-command"));
  for (const entry of entries) {
    const where = `${name}:${entry.line}`;
    if ("error" in entry) {
      problems.push(`${where}: ${entry.error}`);
      continue;
    }
    const parsed = taskSchema.safeParse(entry.value);
    if (!parsed.success) {
      for (const issue of parsed.error.issues)
        problems.push(`${where}: ${issue.path.join(".") || "(task)"}: ${issueText(issue)}`);
      continue;
    }
    const t = parsed.data;
    for (const key of Object.keys(entry.value as object)) {
      if (!(key in taskSchema.shape) && !SWE_BENCH_EXTRA.has(key))
        warnings.push(`${where}: unknown field "${key}" ignored`);
    }
    const earlier = seen.get(t.instance_id);
    if (earlier !== undefined) {
      problems.push(
        `${where}: instance_id: "${t.instance_id}" is already the id of the task on line ${earlier}`,
      );
      continue;
    }
    seen.set(t.instance_id, entry.line);
    const testCommand = t.test_command ?? defaults.testCommand;
    if (!testCommand) {
      problems.push(
        `${where}: test_command: missing; give each task one, or all of them one with --test-command, e.g. "python3 -m pytest {tests}"`,
      );
      continue;
    }
    if (t.test_command) problems.push(...templateProblems(t.test_command, `${where}: test_command`));
    const repo = resolveRepo(t.repo, path.dirname(path.resolve(file)));
    if (repo.kind === "directory" && t.base_commit) {
      problems.push(
        `${where}: base_commit: ${repo.path} is a plain directory, not a git repository; drop base_commit or point repo at a git repository`,
      );
      continue;
    }
    tasks.push({
      instanceId: t.instance_id,
      where,
      repo,
      baseCommit: t.base_commit,
      problemStatement: t.problem_statement,
      failToPass: t.FAIL_TO_PASS,
      passToPass: t.PASS_TO_PASS ?? [],
      testCommand,
      testPatch: t.test_patch?.trim() ? t.test_patch : undefined,
      setupCommand: t.setup_command,
      mode: t.mode,
      model: t.model,
    });
  }
  if (problems.length === 0 && tasks.length === 0)
    problems.push(`${name}: no tasks (one JSON object per line, or a JSON array of them)`);
  if (problems.length > 0)
    throw new UserError(
      "task_file_invalid",
      `The task file ${file} has problems:\n  ${problems.join("\n  ")}`,
    );
  return { file: path.resolve(file), tasks, warnings };
}

function templateProblems(template: string, where: string): string[] {
  const problem = checkTestTemplate(template);
  return problem ? [`${where}: ${problem}`] : [];
}

function issueText(issue: z.core.$ZodIssue): string {
  // zod says "Invalid input: expected array, received string"; the field name already says which input.
  return issue.message.replace(/^Invalid (input|option): /, "");
}

/**
 * A local path (relative to the task file), a `file://` URL or a git URL; SWE-bench's `owner/name` means
 * the GitHub repository. A local path wins over `owner/name` when both could be meant.
 */
export function resolveRepo(repo: string, base: string): TaskRepo {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(repo) || /^[^/\s]+@[^:\s]+:/.test(repo)) {
    if (repo.startsWith("file://")) {
      const local = decodeURIComponent(new URL(repo).pathname);
      return isGitCheckout(local) ? { kind: "git", url: local } : { kind: "directory", path: local };
    }
    return { kind: "git", url: repo };
  }
  const local = path.resolve(base, repo);
  if (existsSync(local)) {
    if (!statSync(local).isDirectory()) return { kind: "git", url: local }; // a bundle; git says if not
    return isGitCheckout(local) ? { kind: "git", url: local } : { kind: "directory", path: local };
  }
  if (/^[\w.-]+\/[\w.-]+$/.test(repo)) return { kind: "git", url: `https://github.com/${repo}.git` };
  return { kind: "git", url: local }; // git clone names what is missing
}

function isGitCheckout(dir: string): boolean {
  return existsSync(path.join(dir, ".git")) || existsSync(path.join(dir, "HEAD"));
}

type Entry = { line: number; value: unknown } | { line: number; error: string };

function jsonlEntries(text: string, name: string): Entry[] {
  const entries: Entry[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (line === "") return;
    try {
      entries.push(objectEntry(JSON.parse(line), i + 1));
    } catch (error) {
      entries.push({ line: i + 1, error: `not valid JSON (${(error as Error).message})` });
    }
  });
  if (entries.length === 0) return [{ line: 1, error: `${name} is empty` }];
  return entries;
}

function objectEntry(value: unknown, line: number): Entry {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    return { line, error: "expected a JSON object (one task)" };
  return { line, value };
}

/** The elements of a JSON array, each with the line it starts on. */
function jsonArrayEntries(text: string, name: string): Entry[] {
  let values: unknown;
  try {
    values = JSON.parse(text);
  } catch (error) {
    return [{ line: 1, error: `${name} is not valid JSON (${(error as Error).message})` }];
  }
  if (!Array.isArray(values)) return [{ line: 1, error: "expected a JSON array of tasks" }];
  const lines = elementLines(text);
  return values.map((value, i) => objectEntry(value, lines[i] ?? 1));
}

/** Line numbers where each top-level element of a (valid) JSON array starts. */
function elementLines(text: string): number[] {
  const lines: number[] = [];
  let line = 1;
  let depth = 0;
  let inString = false;
  let expectElement = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === "\n") line++;
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (/\s/.test(c)) continue;
    if (depth === 1 && expectElement && c !== "]") {
      lines.push(line);
      expectElement = false;
    }
    if (c === '"') inString = true;
    else if (c === "[" || c === "{") {
      depth++;
      if (depth === 1) expectElement = true;
    } else if (c === "]" || c === "}") depth--;
    else if (c === "," && depth === 1) expectElement = true;
  }
  return lines;
}
