import { spawn } from "node:child_process";
import { rgPath } from "@vscode/ripgrep";
import { z } from "zod";
import { AbortedError, SystemError, ToolInputError } from "../../core/index.ts";
import { readPackageText } from "../../core/package-files.ts";
import { PATH_ALIASES } from "../arguments.ts";
import { defineTool } from "../tool.ts";

export const MAX_SEARCH_RESULTS = 250;
/** Past this many matching lines ripgrep is stopped; the note says "more than". */
const MAX_COUNTED_RESULTS = 10_000;
const SEARCH_TIMEOUT_MS = 30_000;

/** Arguments for ripgrep: pure, so the flags that keep it confined are easy to check. */
export function ripgrepArgs(input: {
  pattern: string;
  path?: string;
  glob?: string;
  ignore_case?: boolean;
}): string[] {
  return [
    "--no-config",
    "--no-follow",
    "--hidden",
    "--glob",
    "!.git",
    // The workspace has no .git of its own; .gitignore must still count.
    "--no-require-git",
    "--line-number",
    "--with-filename",
    "--no-heading",
    "--color",
    "never",
    "--max-columns",
    "500",
    "--max-columns-preview",
    "--sort",
    "path",
    ...(input.ignore_case ? ["--ignore-case"] : []),
    ...(input.glob ? ["--glob", input.glob] : []),
    "--regexp",
    input.pattern,
    ...(input.path ? ["--", input.path] : []),
  ];
}

export const searchTool = defineTool({
  name: "search",
  description: readPackageText("tools/builtin/search.md"),
  input: z.object({
    pattern: z.string().min(1).describe("Regular expression (ripgrep syntax), e.g. function\\s+parseConfig"),
    path: z
      .string()
      .optional()
      .describe("File or directory to search, relative to the project root (default: everything)"),
    glob: z
      .string()
      .optional()
      .describe("Only search files matching this glob, e.g. *.ts or src/**/*.py; prefix ! to exclude"),
    ignore_case: z.boolean().optional().describe("Match regardless of case (default false)"),
  }),
  accepts: {
    aliases: {
      pattern: ["regex", "query"],
      path: ["dir", "directory", ...PATH_ALIASES],
      glob: ["include"],
      ignore_case: ["case_insensitive", "ignoreCase"],
    },
    paths: ["path"],
  },
  risk: "read",
  async execute(input, ctx) {
    const target =
      input.path !== undefined && input.path !== "" ? ctx.workspace.confine(input.path) : undefined;
    if (target && (await ctx.workspace.stat(target.rel)) === null) {
      throw new ToolInputError(
        `${target.rel} does not exist in the project. Search without path, or use list_files.`,
        {
          code: "not_found",
        },
      );
    }
    if (
      input.glob &&
      (input.glob.replace(/^!/, "").startsWith("/") || input.glob.split("/").includes(".."))
    ) {
      throw new ToolInputError(`The glob ${JSON.stringify(input.glob)} must be relative, without "..".`, {
        code: "pattern_escape",
      });
    }
    const args = ripgrepArgs({ ...input, path: target?.rel || undefined });
    const run = await runRipgrep(args, ctx.workspace.dir, ctx.signal);

    if (
      run.exitCode === 2 &&
      /regex parse error|error parsing|unclosed|unopened|repetition/i.test(run.stderr)
    ) {
      throw new ToolInputError(
        `The pattern ${JSON.stringify(input.pattern)} is not a valid regular expression:\n${run.stderr.trim()}\n` +
          "Escape characters you mean literally with a backslash (\\( \\[ \\{ \\. \\* \\+ \\?) and retry.",
        { code: "invalid_regex" },
      );
    }
    if (run.exitCode === 2 && run.lines.length === 0) {
      throw new SystemError("search_failed", `ripgrep failed: ${run.stderr.trim()}`);
    }
    const scope = `${target?.rel ? ` in ${target.rel}` : ""}${input.glob ? ` (files matching ${input.glob})` : ""}`;
    if (run.lines.length === 0) {
      return {
        output: `No matches for /${input.pattern}/${input.ignore_case ? "i" : ""}${scope}.`,
        metadata: { matches: 0 },
      };
    }
    const shown = run.lines.slice(0, MAX_SEARCH_RESULTS);
    const total = run.stopped ? `more than ${MAX_COUNTED_RESULTS}` : String(run.count);
    const notes: string[] = [];
    if (run.count > shown.length) {
      notes.push(
        `Showing the first ${shown.length} of ${total} matching lines. Narrow the search with path, glob or a more specific pattern.`,
      );
    }
    if (run.exitCode === 2)
      notes.push(`Some files could not be searched: ${run.stderr.trim().split("\n")[0]}`);
    return {
      output: shown.join("\n") + (notes.length > 0 ? `\n\n(${notes.join(" ")})` : ""),
      metadata: { matches: run.count, truncated: run.count > shown.length },
    };
  },
});

interface RipgrepRun {
  exitCode: number;
  /** The first MAX_SEARCH_RESULTS lines. */
  lines: string[];
  /** Lines counted (all of them unless `stopped`). */
  count: number;
  stopped: boolean;
  stderr: string;
}

function runRipgrep(args: string[], cwd: string, signal: AbortSignal): Promise<RipgrepRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(rgPath, args, {
      cwd,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", LC_ALL: "C.UTF-8" },
      stdio: ["ignore", "pipe", "pipe"],
      signal,
      timeout: SEARCH_TIMEOUT_MS,
    });
    const lines: string[] = [];
    let count = 0;
    let stopped = false;
    let partial = "";
    let stderr = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => {
      if (stopped) return;
      const parts = (partial + chunk).split("\n");
      partial = parts.pop() ?? "";
      for (const line of parts) {
        count++;
        if (lines.length < MAX_SEARCH_RESULTS) lines.push(line);
      }
      if (count > MAX_COUNTED_RESULTS) {
        stopped = true;
        child.kill("SIGKILL");
      }
    });
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (chunk: string) => {
      if (stderr.length < 10_000) stderr += chunk;
    });
    child.on("error", (error) => {
      if (signal.aborted) reject(new AbortedError("search aborted", { cause: error }));
      else
        reject(
          new SystemError("search_failed", `Could not run ripgrep (${rgPath}): ${error.message}`, {
            cause: error,
          }),
        );
    });
    child.on("close", (code, killedBy) => {
      if (signal.aborted) return reject(new AbortedError("search aborted"));
      if (!stopped && partial !== "") {
        count++;
        if (lines.length < MAX_SEARCH_RESULTS) lines.push(partial);
      }
      if (killedBy && !stopped) {
        return reject(
          new ToolInputError(
            `The search took longer than ${SEARCH_TIMEOUT_MS / 1000} s and was stopped. Narrow it with path or glob.`,
            { code: "search_timeout" },
          ),
        );
      }
      resolve({ exitCode: stopped ? 0 : (code ?? 2), lines, count, stopped, stderr });
    });
  });
}
