import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { z } from "zod";
import type { AgentDefinition } from "./agent.ts";

/** An agent loaded from a file, with the file it came from. */
export interface LoadedAgent extends AgentDefinition {
  source: string;
}

/** Why one agent file could not be loaded: the file, the field (when one is to blame) and what to do. */
export interface AgentFileProblem {
  file: string;
  field?: string;
  message: string;
}

export interface AgentFiles {
  /** Loaded agents; when two directories define the same name, the later directory's wins. */
  agents: LoadedAgent[];
  /** Files that could not be loaded. Every other file still loads. */
  problems: AgentFileProblem[];
  /** Names defined in an earlier directory and replaced by a later one, with both files. */
  replaced: { name: string; file: string; by: string }[];
}

/** Agent names: lower-case letters, digits, `-` and `_`, as in file names. */
export const AGENT_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** The tools an agent file gets when it lists none: it can read and report, nothing else. */
export const DEFAULT_AGENT_TOOLS: readonly string[] = ["read_file", "list_files", "search", "finish"];

/** The frontmatter of an agent file. Unknown fields are errors, so a typo (`tool:`) is caught. */
export const agentFrontmatterSchema = z
  .object({
    name: z
      .string()
      .regex(AGENT_NAME, "use lower-case letters, digits, - and _ (at most 64 characters)")
      .optional()
      .describe("The agent's name; defaults to the file name without .md, and must equal it if given"),
    description: z
      .string()
      .trim()
      .min(1, "must not be empty")
      .describe("One line: what the agent is for (planners read it to decide whom to delegate to)"),
    model: z.string().trim().min(1).optional().describe("Model id, e.g. gpt-4.1-mini; default: the run's"),
    tools: z
      .union([z.array(z.string().trim().min(1)), z.string()])
      .optional()
      .describe("Tool allow-list: a list or a comma-separated string; globs like github__* allowed"),
    maxSteps: z.number().int().positive().max(10_000).optional().describe("Step budget"),
    maxTokens: z.number().int().positive().optional().describe("Token cap (input + output) of this agent"),
    maxCostUsd: z.number().positive().optional().describe("Cost cap in USD of this agent"),
  })
  .strict();

const FIELDS = Object.keys(agentFrontmatterSchema.shape).join(", ");

class AgentFileError extends Error {
  readonly field: string | undefined;
  constructor(message: string, field?: string) {
    super(message);
    this.field = field;
  }
}

/**
 * Parses one agent file: YAML frontmatter between `---` lines, then the role prompt. Throws an error that
 * names the field at fault; `loadAgentFiles` turns it into a problem with the file name.
 */
export async function parseAgentFile(text: string, file: string): Promise<LoadedAgent> {
  const match = /^\uFEFF?---[ \t]*\r?\n([\s\S]*?)\r?\n---[ \t]*(?:\r?\n|$)([\s\S]*)$/.exec(text);
  if (!match) {
    throw new AgentFileError(
      "no frontmatter: start the file with a line ---, then name/description/tools fields, then --- and the role prompt",
    );
  }
  const { parse } = await import("yaml");
  let raw: unknown;
  try {
    raw = parse(match[1]!) ?? {};
  } catch (error) {
    throw new AgentFileError(`the frontmatter is not valid YAML: ${(error as Error).message.split("\n")[0]}`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new AgentFileError("the frontmatter must be key: value lines");
  }
  const parsed = agentFrontmatterSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    if (issue.code === "unrecognized_keys") {
      const field = issue.keys[0]!;
      throw new AgentFileError(`unknown field "${field}" (known fields: ${FIELDS})`, field);
    }
    const field = issue.path.length > 0 ? String(issue.path[0]) : undefined;
    const value = field !== undefined ? (raw as Record<string, unknown>)[field] : undefined;
    const why = value === undefined ? "is required" : issue.message;
    throw new AgentFileError(`field "${field}" ${why}`, field);
  }
  const front = parsed.data;
  const fromFile = basename(file, ".md");
  const name = front.name ?? fromFile;
  if (front.name !== undefined && front.name !== fromFile) {
    throw new AgentFileError(
      `field "name" is "${front.name}" but the file is ${fromFile}.md: rename the file or the agent (they must match)`,
      "name",
    );
  }
  if (!AGENT_NAME.test(name)) {
    throw new AgentFileError(
      `the file name "${fromFile}" is not a valid agent name: use lower-case letters, digits, - and _`,
      "name",
    );
  }
  const listed =
    front.tools === undefined
      ? [...DEFAULT_AGENT_TOOLS]
      : typeof front.tools === "string"
        ? front.tools
            .split(",")
            .map((t) => t.trim())
            .filter(Boolean)
        : front.tools;
  const bad = listed.find((t) => !/^[A-Za-z0-9_*.-]+$/.test(t));
  if (bad !== undefined) throw new AgentFileError(`field "tools" has an invalid tool name "${bad}"`, "tools");
  // Every agent can report: `finish` is how it hands its result to the orchestrator.
  const tools = listed.includes("finish") ? listed : [...listed, "finish"];
  const systemPrompt = match[2]!.trim();
  if (systemPrompt === "") {
    throw new AgentFileError(
      "the role prompt is empty: write the agent's instructions below the frontmatter",
      "prompt",
    );
  }
  return {
    name,
    description: front.description,
    systemPrompt,
    tools,
    model: front.model,
    maxSteps: front.maxSteps,
    maxTokens: front.maxTokens,
    maxCostUsd: front.maxCostUsd,
    source: file,
  };
}

/**
 * Loads every `*.md` agent file of `dirs`, lowest precedence first (e.g. the user's `~/.entourage/agents`,
 * then the repo's `.entourage/agents`): a name defined again later replaces the earlier one. A broken file
 * is reported and skipped; it never stops the others from loading. Missing directories are fine.
 */
export async function loadAgentFiles(dirs: readonly string[]): Promise<AgentFiles> {
  const byName = new Map<string, LoadedAgent>();
  const problems: AgentFileProblem[] = [];
  const replaced: AgentFiles["replaced"] = [];
  for (const dir of dirs) {
    if (!existsSync(dir)) continue;
    let entries: string[];
    try {
      entries = (await readdir(dir, { withFileTypes: true }))
        .filter((e) => (e.isFile() || e.isSymbolicLink()) && e.name.endsWith(".md"))
        .map((e) => e.name)
        .sort();
    } catch (error) {
      problems.push({ file: dir, message: `cannot list the directory: ${(error as Error).message}` });
      continue;
    }
    for (const entry of entries) {
      const file = join(dir, entry);
      try {
        const agent = await parseAgentFile(await readFile(file, "utf8"), file);
        const earlier = byName.get(agent.name);
        if (earlier) replaced.push({ name: agent.name, file: earlier.source, by: file });
        byName.set(agent.name, agent);
      } catch (error) {
        problems.push({
          file,
          field: error instanceof AgentFileError ? error.field : undefined,
          message:
            error instanceof AgentFileError ? error.message : `cannot read: ${(error as Error).message}`,
        });
      }
    }
  }
  return { agents: [...byName.values()], problems, replaced };
}

/** A problem as one line: `<file>: field "tools" …`. */
export function describeAgentProblem(problem: AgentFileProblem): string {
  return `${problem.file}: ${problem.message}`;
}
