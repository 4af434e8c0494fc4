import { z } from "zod";
import { REPORT_STATUSES } from "../../core/index.ts";
import { readPackageText } from "../../core/package-files.ts";
import { defineTool } from "../tool.ts";

export const finishInput = z.object({
  status: z.enum(REPORT_STATUSES).describe("Outcome of the task"),
  summary: z.string().min(1).describe("What you did and found, in a few sentences"),
  files_changed: z.array(z.string()).default([]).describe("Workspace-relative paths you changed"),
  tests_passed: z.boolean().optional().describe("Whether the project's tests pass after your change"),
  notes: z.string().optional().describe("Open concerns or follow-ups for the user or the next agent"),
});

/** The agent loop intercepts `finish`: executing it only acknowledges; the report goes into `agent.finished`. */
export const finishTool = defineTool({
  name: "finish",
  description: readPackageText("tools/builtin/finish.md"),
  input: finishInput,
  risk: "read",
  protocol: "finish",
  async execute() {
    return { output: "Report received." };
  },
});
