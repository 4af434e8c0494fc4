import type { ToolDefinition } from "../tool.ts";
import { editFileTool } from "./edit-file.ts";
import { listFilesTool } from "./list-files.ts";
import { readFileTool } from "./read-file.ts";
import { searchTool } from "./search.ts";
import { writeFileTool } from "./write-file.ts";

export { editFileTool } from "./edit-file.ts";
export { listFilesTool, MAX_LISTED_FILES } from "./list-files.ts";
export { DEFAULT_READ_LIMIT, MAX_LINE_CHARS, readFileTool } from "./read-file.ts";
export { MAX_SEARCH_RESULTS, ripgrepArgs, searchTool } from "./search.ts";
export { writeFileTool } from "./write-file.ts";

/** The tools that read and change files, host-side through the run's workspace (never the sandbox). */
export const fileTools: ToolDefinition[] = [
  readFileTool,
  writeFileTool,
  editFileTool,
  listFilesTool,
  searchTool,
];

export { finishInput, finishTool } from "./finish.ts";
export { proposePlanInput, proposePlanTool } from "./propose-plan.ts";
export { commandRisk, runCommandTool } from "./run-command.ts";

import { finishTool } from "./finish.ts";
import { proposePlanTool } from "./propose-plan.ts";
import { runCommandTool } from "./run-command.ts";

/** Every built-in tool. Agents pick from these by name (their allow-list). */
export const builtinTools: ToolDefinition[] = [
  ...fileTools,
  runCommandTool as ToolDefinition,
  finishTool as ToolDefinition,
  proposePlanTool as ToolDefinition,
];
