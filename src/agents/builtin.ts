import { readPackageText } from "../core/package-files.ts";
import type { AgentDefinition } from "./agent.ts";

const prompt = (name: string) => readPackageText(`agents/builtin/${name}.md`);

const READ = ["read_file", "list_files", "search"] as const;

/** Reads and reports what exists and what must change. Cannot write or run anything. */
export const analyzerAgent: AgentDefinition = {
  name: "analyzer",
  description: "Reads the code and reports what exists and what must change.",
  systemPrompt: prompt("analyzer"),
  tools: [...READ, "finish"],
  maxSteps: 25,
};

/** The Implementer's planning phase: proposes a plan (a checkpoint a person may approve or edit). */
export const plannerPhaseAgent: AgentDefinition = {
  name: "implementer",
  description: "Proposes the plan the change will follow.",
  systemPrompt: prompt("planner"),
  tools: [...READ, "propose_plan"],
  maxSteps: 10,
};

/** Changes the code; may run quick checks. */
export const implementerAgent: AgentDefinition = {
  name: "implementer",
  description: "Changes the code to carry out the task, following the plan.",
  systemPrompt: prompt("implementer"),
  tools: [...READ, "write_file", "edit_file", "run_command", "finish"],
};

/** Writes or extends tests and runs the project's real test command. */
export const testerAgent: AgentDefinition = {
  name: "tester",
  description: "Adds tests where needed and runs the project's test command.",
  systemPrompt: prompt("tester"),
  tools: [...READ, "write_file", "edit_file", "run_command", "finish"],
  maxSteps: 30,
};

/** Cleans up the final change without changing behaviour; runs nothing. */
export const refactorerAgent: AgentDefinition = {
  name: "refactorer",
  description: "Cleans up the change without changing behaviour.",
  systemPrompt: prompt("refactorer"),
  tools: [...READ, "edit_file", "write_file", "finish"],
  maxSteps: 20,
};

/** Dynamic mode: keeps the task and progress ledgers and delegates to the specialists. */
export const plannerAgent: AgentDefinition = {
  name: "planner",
  description: "Keeps the plan and delegates to the specialists, sequentially or in parallel.",
  systemPrompt: prompt("dynamic-planner"),
  tools: [...READ, "update_ledger", "delegate", "finish"],
  maxSteps: 40,
};

export const builtinAgents: readonly AgentDefinition[] = [
  analyzerAgent,
  implementerAgent,
  testerAgent,
  refactorerAgent,
];
