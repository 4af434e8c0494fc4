import { z } from "zod";
import { AbortedError, EntourageError, errorMessage, ToolInputError } from "../core/index.ts";
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
  | { ok: true; tool: ToolDefinition; input: unknown; risk: Risk }
  | { ok: false; reason: "unknown_tool" | "invalid"; message: string };

/**
 * Build step: finds the tool and validates the model's arguments. A failure is text for the model,
 * never an exception: the model can correct itself on the next step.
 */
export function prepareCall(
  tools: readonly ToolDefinition[],
  name: string,
  args: unknown,
  argsError?: string,
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
  const parsed = tool.input.safeParse(args ?? {});
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
  return { ok: true, tool, input: parsed.data, risk };
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
  return truncated ? { ...result, output: text, metadata: { ...result.metadata, truncated: true } } : result;
}
