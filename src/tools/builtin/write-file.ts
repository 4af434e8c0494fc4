import { z } from "zod";
import { readPackageText } from "../../core/package-files.ts";
import { splitLines } from "../../workspace/index.ts";
import { PATH_ALIASES } from "../arguments.ts";
import { defineTool } from "../tool.ts";

export const writeFileTool = defineTool({
  name: "write_file",
  description: readPackageText("tools/builtin/write-file.md"),
  input: z.object({
    path: z.string().min(1).describe("File path relative to the project root, e.g. src/new-module.ts"),
    content: z.string().describe("The complete content of the file"),
  }),
  accepts: {
    aliases: { path: PATH_ALIASES, content: ["contents", "text", "file_text"] },
    paths: ["path"],
    refused: {
      append:
        "write_file always replaces the whole file; to add to it, use edit_file (or write the complete new content).",
    },
  },
  risk: "write",
  async execute(input, ctx) {
    const result = await ctx.workspace.writeText(input.path, input.content);
    const lines = splitLines(input.content).length;
    const output = result.created
      ? `Created ${result.path} (${result.bytes} bytes, ${lines} line${lines === 1 ? "" : "s"}).`
      : `Overwrote ${result.path} (${result.previousBytes} → ${result.bytes} bytes, now ${lines} line${lines === 1 ? "" : "s"}).`;
    return {
      output,
      metadata: {
        path: result.path,
        created: result.created,
        bytes: result.bytes,
        previousBytes: result.previousBytes,
      },
      changed: [result.path],
    };
  },
});
