import { z } from "zod";
import { AbortedError, EntourageError, errorMessage, ToolInputError } from "../core/index.ts";
import { normalizeArguments, type PrepareContext, pathRoots } from "./arguments.ts";
import type { Risk, ToolContext, ToolDefinition, ToolResult } from "./tool.ts";

/** Tool output the model sees is cut here, in one place, with a note on how to read the rest. */
export const MAX_TOOL_OUTPUT_CHARS = 30_000;

/** What the model is told about a tool: name, description and the JSON schema of its input. */
export interface ToolSpec {
  name: string;
  description: string;
  inputSchema: Record<string, unknown>;
}

export function toolSpec(tool: ToolDefinition): ToolSpec {
  const schema = tool.inputJsonSchema
    ? { ...tool.inputJsonSchema }
    : (z.toJSONSchema(tool.input, { io: "input" }) as Record<string, unknown>);
  delete schema.$schema;
  return { name: tool.name, description: tool.description, inputSchema: schema };
}

export type PreparedCall =
  | {
      ok: true;
      tool: ToolDefinition;
      input: unknown;
      risk: Risk;
      /** What the wrapper changed in the model's arguments (aliases, absolute paths…); told to the model. */
      notes: string[];
    }
  | { ok: false; reason: "unknown_tool" | "invalid"; message: string };

/**
 * Notes of a prepared input, keyed by the validated object itself, so `executeTool` can report them without
 * every caller passing them along.
 */
const preparedNotes = new WeakMap<object, string[]>();

/**
 * Build step: finds the tool, normalizes the model's arguments (the tool's `accepts`) and validates them.
 * With `context`, absolute paths inside the workspace, the repository or the sandbox's view are made
 * workspace-relative here — before approval rules see them — and others are refused. A failure is text
 * for the model, never an exception: the model can correct itself on the next step.
 */
export function prepareCall(
  tools: readonly ToolDefinition[],
  name: string,
  args: unknown,
  argsError?: string,
  context?: PrepareContext,
): PreparedCall {
  const tool = tools.find((t) => t.name === name);
  if (!tool) {
    const names = tools.map((t) => t.name).join(", ");
    return {
      ok: false,
      reason: "unknown_tool",
      message: `Unknown tool "${name}". Available tools: ${names}.`,
    };
  }
  if (argsError !== undefined) {
    return {
      ok: false,
      reason: "invalid",
      message: `The arguments of ${name} were not valid JSON (${argsError}). Send the call again with a JSON object matching the tool's schema.`,
    };
  }
  const normalized = normalizeArguments(
    name,
    tool.input,
    tool.accepts,
    args ?? {},
    context ? pathRoots(context) : undefined,
  );
  if (!normalized.ok) {
    return { ok: false, reason: "invalid", message: `${normalized.message}\nFix it and call ${name} again.` };
  }
  const parsed = tool.input.safeParse(normalized.args);
  if (!parsed.success) {
    const problems = parsed.error.issues
      .map((i) => `- ${i.path.length ? i.path.join(".") : "(arguments)"}: ${i.message}`)
      .join("\n");
    return {
      ok: false,
      reason: "invalid",
      message: `Invalid arguments for ${name}:\n${problems}\nFix them and call ${name} again.`,
    };
  }
  const risk = typeof tool.risk === "function" ? tool.risk(parsed.data) : tool.risk;
  const notes = normalized.notes;
  if (notes.length > 0 && typeof parsed.data === "object" && parsed.data !== null)
    preparedNotes.set(parsed.data, notes);
  return { ok: true, tool, input: parsed.data, risk, notes };
}

/** Cuts `text` to the model's budget, keeping the head and saying how much was left out and what to do. */
export function truncateForModel(
  text: string,
  max = MAX_TOOL_OUTPUT_CHARS,
): { text: string; truncated: boolean } {
  if (text.length <= max) return { text, truncated: false };
  const head = text.slice(0, max);
  const note =
    `\n\n[output truncated: showing the first ${max} of ${text.length} characters. ` +
    `Read the rest in parts: read_file with offset/limit, search with a pattern, or for a command redirect its output to a file and read that.]`;
  return { text: head + note, truncated: true };
}

/**
 * Execute step: runs a prepared call. Expected failures (ToolInputError and any EntourageError the tool
 * raises) become an error result the model reads; an abort propagates; anything else is a bug in the
 * tool and is reported to the model too, so one broken tool never crashes a run.
 */
export async function executeTool(
  tool: ToolDefinition,
  input: unknown,
  ctx: ToolContext,
): Promise<ToolResult> {
  let result: ToolResult;
  try {
    result = await tool.execute(input, ctx);
  } catch (error) {
    if (AbortedError.isInstance(error) || ctx.signal.aborted)
      throw error instanceof Error ? error : new AbortedError();
    const message = ToolInputError.isInstance(error)
      ? error.message
      : EntourageError.isInstance(error)
        ? `${tool.name} failed: ${error.message}`
        : `${tool.name} failed unexpectedly: ${errorMessage(error)}`;
    result = { output: message, isError: true };
  }
  const { text, truncated } = truncateForModel(result.output);
  const notes = typeof input === "object" && input !== null ? preparedNotes.get(input) : undefined;
  if (!truncated && !notes) return result;
  return {
    ...result,
    // The note comes first, so truncation never hides that the arguments were read differently.
    output: notes ? `${argumentNote(notes)}\n${text}` : text,
    metadata: {
      ...result.metadata,
      ...(truncated ? { truncated: true } : {}),
      ...(notes ? { argumentNotes: notes } : {}),
    },
  };
}

/** `Note: took file_path as path; used path src/a.ts (given as /repo/src/a.ts, inside the repository).` */
export function argumentNote(notes: readonly string[]): string {
  const text = notes.join("; ");
  return `Note: ${text.charAt(0).toUpperCase()}${text.slice(1)}.`;
}
