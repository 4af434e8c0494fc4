import { readFileSync } from "node:fs";
import type { AgentDefinition } from "./agent.ts";

/** The single general-purpose agent: reads, edits, runs commands, finishes with a report. */
export const generalAgent: AgentDefinition = {
  name: "general",
  description: "Carries out a coding task end to end: investigates, edits, tests, reports.",
  systemPrompt: readFileSync(new URL("./general.md", import.meta.url), "utf8").trim(),
  tools: ["read_file", "write_file", "edit_file", "list_files", "search", "run_command", "finish"],
};
