import { z } from "zod";
import { ToolInputError } from "../../core/index.ts";
import { readPackageText } from "../../core/package-files.ts";
import { detectEol, isBinary, splitLines } from "../../workspace/index.ts";
import { PATH_ALIASES } from "../arguments.ts";
import { defineTool } from "../tool.ts";
import { planEdit } from "./edit-match.ts";
import { rethrowWithSuggestions } from "./read-file.ts";
import { closestRegion, lineAt, numberLines } from "./text.ts";

/** Lines of context shown around an edit, and the most lines shown in any excerpt. */
const CONTEXT_LINES = 3;
const MAX_EXCERPT_LINES = 30;

export const editFileTool = defineTool({
  name: "edit_file",
  description: readPackageText("tools/builtin/edit-file.md"),
  input: z.object({
    path: z.string().min(1).describe("File path relative to the project root"),
    old_string: z.string().describe("The exact text to replace, whitespace and indentation included"),
    new_string: z.string().describe("The text to put in its place"),
    replace_all: z
      .boolean()
      .optional()
      .describe("Replace every occurrence instead of requiring exactly one (default false)"),
  }),
  accepts: {
    aliases: {
      path: PATH_ALIASES,
      old_string: ["old_str", "oldText", "old_text", "oldString"],
      new_string: ["new_str", "newText", "new_text", "newString"],
      replace_all: ["replaceAll"],
    },
    paths: ["path"],
  },
  risk: "write",
  async execute(input, ctx) {
    if (input.old_string === "") {
      throw new ToolInputError(
        "old_string is empty. Give the exact text to replace; to create a file or replace all of it use write_file.",
        { code: "edit_empty" },
      );
    }
    if (input.old_string === input.new_string) {
      throw new ToolInputError("old_string and new_string are identical, so there is nothing to change.", {
        code: "edit_noop",
      });
    }
    const bytes = await ctx.workspace
      .readBytes(input.path)
      .catch((error: unknown) => rethrowWithSuggestions(error, input.path, ctx.workspace));
    const path = ctx.workspace.confine(input.path).rel;
    if (isBinary(bytes)) {
      throw new ToolInputError(`${path} is a binary file; edit_file only edits text.`, {
        code: "binary_file",
      });
    }
    let content: string;
    try {
      content = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch {
      throw new ToolInputError(
        `${path} is not valid UTF-8, so editing it as text could corrupt it. Change it with run_command (e.g. sed) instead.`,
        { code: "not_utf8" },
      );
    }

    const plan = planEdit(content, input.old_string, input.new_string, {
      replaceAll: input.replace_all,
      eol: detectEol(content),
    });
    if (plan.kind === "none") throw noMatch(path, content, input.old_string);
    if (plan.kind === "ambiguous") {
      const where = `${plan.lines.length} times in ${path} (at lines ${plan.lines.join(", ")})`;
      throw new ToolInputError(
        plan.strategy === "exact"
          ? `old_string matches ${where}. Include more surrounding lines to pick one, or set replace_all to true to replace them all.`
          : `old_string is not in ${path} exactly, and ${plan.how} it matches ${where}, so nothing was changed. ` +
              "Copy the exact text from the file (read_file) with enough surrounding lines to pick one, and retry.",
        { code: "edit_ambiguous" },
      );
    }

    // Rebuild by slicing: String.replace would interpret `$&`, `$1`… in new_string.
    let updated = "";
    let from = 0;
    const newStarts: number[] = [];
    for (const { start, end, text } of plan.replacements) {
      updated += content.slice(from, start);
      newStarts.push(updated.length);
      updated += text;
      from = end;
    }
    updated += content.slice(from);
    const first = plan.replacements[0]!;
    const oldLines = lineRange(
      lineAt(content, first.start),
      lineAt(content, Math.max(first.start, first.end - 1)),
    );
    if (updated === content) {
      throw new ToolInputError(
        `old_string matched ${path} at ${oldLines} ${plan.how}, and new_string is what is already there, so there is nothing to change.`,
        { code: "edit_noop" },
      );
    }
    await ctx.workspace.writeText(path, updated);

    const count = plan.replacements.length;
    const lines = newStarts.map((at) => lineAt(updated, at));
    const summary =
      plan.strategy === "exact"
        ? `replaced ${count} occurrence${count === 1 ? "" : "s"} (line${count === 1 ? "" : "s"} ${lines.join(", ")})`
        : `old_string is not in the file exactly; it matched ${plan.how} at ${oldLines}, which ${oldLines.startsWith("lines") ? "were" : "was"} replaced`;
    const output = `Edited ${path}: ${summary}.\n${excerpt(updated, lines[0]!, splitLines(first.text).length || 1)}`;
    return {
      output,
      metadata: { path, replacements: count, lines, strategy: plan.strategy },
      changed: [path],
    };
  },
});

/** "line 12" or "lines 12–14". */
function lineRange(first: number, last: number): string {
  return first === last ? `line ${first}` : `lines ${first}–${last}`;
}

/** The edited region of the new content with a few lines of context, numbered like read_file. */
function excerpt(content: string, firstLine: number, length: number): string {
  const lines = splitLines(content);
  const start = Math.max(1, firstLine - CONTEXT_LINES);
  const end = Math.min(lines.length, firstLine + length - 1 + CONTEXT_LINES, start + MAX_EXCERPT_LINES - 1);
  return numberLines(lines.slice(start - 1, end), start);
}

function noMatch(path: string, content: string, oldString: string): ToolInputError {
  const lines = splitLines(content);
  const region = closestRegion(lines, splitLines(oldString));
  if (!region || region.score < 0.3) {
    return new ToolInputError(
      `No match for old_string in ${path}, and no lines are similar to it. Read the file with read_file to see its current content, then retry.`,
      { code: "edit_no_match" },
    );
  }
  const first = region.start + 1;
  const last = region.start + region.length;
  const shown = lines.slice(
    region.start,
    Math.min(region.start + region.length, region.start + MAX_EXCERPT_LINES),
  );
  return new ToolInputError(
    `No match for old_string in ${path}; the closest lines are ${first === last ? first : `${first}–${last}`}:\n` +
      `${numberLines(shown, first)}\n` +
      `Copy old_string exactly from the file (without the line numbers) and retry.`,
    { code: "edit_no_match" },
  );
}
