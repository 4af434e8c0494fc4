import { z } from "zod";
import { ToolInputError } from "../../core/index.ts";
import { readPackageText } from "../../core/package-files.ts";
import type { Workspace } from "../../workspace/index.ts";
import { PATH_ALIASES } from "../arguments.ts";
import { defineTool } from "../tool.ts";
import { numberLine, similarPaths } from "./text.ts";

export const DEFAULT_READ_LIMIT = 2000;
export const MAX_READ_LIMIT = 10_000;
export const MAX_LINE_CHARS = 2000;
/** Stop adding lines past this many characters, so the note says exactly where to continue. */
export const READ_OUTPUT_BUDGET = 25_000;

export const readFileTool = defineTool({
  name: "read_file",
  description: readPackageText("tools/builtin/read-file.md"),
  input: z.object({
    path: z.string().min(1).describe("File path relative to the project root, e.g. src/index.ts"),
    offset: z
      .number()
      .int()
      .min(1)
      .max(100_000_000)
      .optional()
      .describe("1-based line to start reading at (default 1)"),
    limit: z
      .number()
      .int()
      .min(1)
      .max(MAX_READ_LIMIT)
      .optional()
      .describe(`Maximum number of lines to read (default ${DEFAULT_READ_LIMIT}, at most ${MAX_READ_LIMIT})`),
  }),
  accepts: {
    aliases: { path: PATH_ALIASES, offset: ["start_line"], limit: ["max_lines"] },
    paths: ["path"],
    refused: { end_line: "Give offset (the first line, 1-based) and limit (how many lines) instead." },
  },
  risk: "read",
  async execute(input, ctx) {
    const limit = input.limit ?? DEFAULT_READ_LIMIT;
    const slice = await ctx.workspace
      .readText(input.path, { offset: input.offset, limit })
      .catch((error: unknown) => rethrowWithSuggestions(error, input.path, ctx.workspace));
    if (slice.totalLines === 0)
      return { output: `${slice.path} is empty (0 lines).`, metadata: { totalLines: 0 } };

    const out: string[] = [];
    let chars = 0;
    let cutLines = 0;
    let shown = 0;
    for (const line of slice.lines) {
      const text =
        line.length > MAX_LINE_CHARS
          ? `${line.slice(0, MAX_LINE_CHARS)}… [line cut: ${line.length} characters]`
          : line;
      const numbered = numberLine(slice.startLine + shown, text);
      if (shown > 0 && chars + numbered.length > READ_OUTPUT_BUDGET) break;
      if (text !== line) cutLines++;
      out.push(numbered);
      chars += numbered.length + 1;
      shown++;
    }

    const lastShown = slice.startLine + shown - 1;
    const notes: string[] = [];
    if (cutLines > 0) {
      notes.push(
        `${cutLines} line(s) longer than ${MAX_LINE_CHARS} characters were cut; use search to find text within them.`,
      );
    }
    if (lastShown < slice.totalLines) {
      notes.push(
        `Showing lines ${slice.startLine}–${lastShown} of ${slice.totalLines}. Read more with offset=${lastShown + 1}.`,
      );
    }
    const output = notes.length > 0 ? `${out.join("\n")}\n\n(${notes.join(" ")})` : out.join("\n");
    return {
      output,
      metadata: {
        path: slice.path,
        startLine: slice.startLine,
        endLine: lastShown,
        totalLines: slice.totalLines,
      },
    };
  },
});

/** For a missing file, adds up to five similarly named files to the error: the usual cause is a typo. */
export async function rethrowWithSuggestions(
  error: unknown,
  wanted: string,
  workspace: Workspace,
): Promise<never> {
  if (!ToolInputError.isInstance(error) || error.code !== "not_found") throw error;
  const similar = similarPaths(await workspace.list().catch(() => []), wanted);
  const hint =
    similar.length > 0
      ? ` Similarly named files: ${similar.join(", ")}.`
      : " Use list_files to see the project's files, or search to find one by its content.";
  throw new ToolInputError(`${error.message}${hint}`, { code: "not_found", cause: error });
}
