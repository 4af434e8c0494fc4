import { readPackageText } from "../core/package-files.ts";
import type { AgentDefinition } from "./agent.ts";

/** The single general-purpose agent: reads, edits, runs commands, finishes with a report. */
export const generalAgent: AgentDefinition = {
  name: "general",
  description: "Carries out a coding task end to end: investigates, edits, tests, reports.",
  systemPrompt: readPackageText("agents/general.md"),
  tools: ["read_file", "write_file", "edit_file", "list_files", "search", "run_command", "finish"],
};
