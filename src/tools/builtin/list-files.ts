import { z } from "zod";
import { ToolInputError } from "../../core/index.ts";
import { readPackageText } from "../../core/package-files.ts";
import { PATH_ALIASES } from "../arguments.ts";
import { defineTool } from "../tool.ts";

export const MAX_LISTED_FILES = 1000;

export const listFilesTool = defineTool({
  name: "list_files",
  description: readPackageText("tools/builtin/list-files.md"),
  input: z.object({
    pattern: z
      .string()
      .optional()
      .describe("Glob to match, e.g. *.ts (any depth) or src/**/*.test.ts (from path); default: all files"),
    path: z
      .string()
      .optional()
      .describe("Directory to list, relative to the project root (default: the whole project)"),
  }),
  accepts: {
    aliases: { path: ["dir", "directory", "dir_path", ...PATH_ALIASES], pattern: ["glob"] },
    paths: ["path"],
  },
  risk: "read",
  async execute(input, ctx) {
    const where = input.path && input.path !== "." ? input.path : undefined;
    if (where !== undefined && (await ctx.workspace.stat(where)) === null) {
      throw new ToolInputError(
        `${where} does not exist in the project. Call list_files without path to see the layout.`,
        {
          code: "not_found",
        },
      );
    }
    const files = await ctx.workspace.list({ pattern: input.pattern, path: where });
    const scope = `${input.pattern ? ` matching ${JSON.stringify(input.pattern)}` : ""}${where ? ` under ${where}` : ""}`;
    if (files.length === 0) {
      return { output: `No files${scope}.`, metadata: { count: 0 } };
    }
    const shown = files.slice(0, MAX_LISTED_FILES);
    const note =
      files.length > shown.length
        ? `\n\n(Showing ${shown.length} of ${files.length} files${scope}. Narrow the listing with path or pattern.)`
        : "";
    return {
      output: shown.join("\n") + note,
      metadata: { count: files.length, truncated: files.length > shown.length },
    };
  },
});
