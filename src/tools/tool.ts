import type { z } from "zod";
import type { ProtocolRole, Risk } from "../core/index.ts";
import type { Sandbox } from "../sandbox/index.ts";
import type { Workspace } from "../workspace/index.ts";
import type { ArgumentForms } from "./arguments.ts";

export type { Risk };

/** What a tool may touch: the run's workspace (files, host-side, confined) and its sandbox (processes). */
export interface ToolContext {
  workspace: Workspace;
  sandbox: Sandbox;
  signal: AbortSignal;
  /** Streams partial output (command stdout/stderr) to live views while the tool runs. */
  onOutput?: (text: string, stream: "stdout" | "stderr") => void;
}

/** What a tool returns: text for the model plus structured fields for events and views. */
export interface ToolResult {
  /** The text the model reads. The wrapper truncates it; tools need not. */
  output: string;
  /** True when the call did not do what was asked (the model should react). */
  isError?: boolean;
  /** Structured data recorded in `tool.call.ended` (exit code, files written, …). */
  metadata?: Record<string, unknown>;
  /** Workspace-relative paths this call may have changed; a checkpoint follows when non-empty or unknown. */
  changed?: string[] | "unknown";
}

export interface ToolDefinition<Input extends z.ZodType = z.ZodType> {
  name: string;
  /** What the model reads about the tool. Long descriptions live in a sibling `.md` file. */
  description: string;
  input: Input;
  /**
   * The JSON Schema the model sees, for tools whose schema comes as JSON Schema (MCP servers, plugins that
   * do not use zod). When set, `toolSpec` sends it as is; `input` still validates the arguments (a zod
   * schema converted from it, or a permissive object when it cannot be converted).
   */
  inputJsonSchema?: Record<string, unknown>;
  /**
   * What else the wrapper accepts for this tool's arguments — aliases, absolute paths, argv arrays — and
   * turns into the schema's shape before validating, telling the model what it did (`normalizeArguments`).
   * The JSON schema the model sees stays the canonical one.
   */
  accepts?: ArgumentForms;
  /** Risk class; a function when it depends on the arguments (e.g. `rm -rf` is destructive). */
  risk: Risk | ((input: z.infer<Input>) => Risk);
  execute(input: z.infer<Input>, ctx: ToolContext): Promise<ToolResult>;
  /**
   * Safe to run again after a crash cut it off, because it picks up its own progress from the log (e.g.
   * `delegate`). Reads are always re-run; other calls are reported to the model as interrupted.
   */
  idempotent?: boolean;
  /**
   * A protocol step rather than an act: `finish` ends the agent with its report, `plan` proposes the plan
   * for the checkpoint. The agent loop handles these after the turn's other calls; a model that answers in
   * text instead gets the fallback (the text is the report, or the plan).
   */
  protocol?: ProtocolRole;
}

/** Declares a tool. Identity at runtime; it exists so the input type flows into `execute`. */
export function defineTool<Input extends z.ZodType>(tool: ToolDefinition<Input>): ToolDefinition<Input> {
  return tool;
}
