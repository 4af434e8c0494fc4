import { readFile } from "node:fs/promises";
import { z } from "zod";

/**
 * The scenario format of the fake model server. Documented for humans in ./README.md; this schema is
 * the single definition (unknown keys are rejected so a typo like `stallAfterChunk` fails loudly).
 */
export const toolCallSchema = z
  .object({
    id: z.string().optional().describe("Tool call id; defaults to call_<turn>_<index>"),
    name: z.string(),
    arguments: z.record(z.string(), z.unknown()).optional().describe("Arguments, sent as JSON"),
    argumentsText: z.string().optional().describe("Raw argument text, sent as is (e.g. malformed JSON)"),
  })
  .strict();

export const turnSchema = z
  .object({
    name: z.string().optional().describe("Label shown in failure messages"),
    match: z
      .string()
      .optional()
      .describe(
        "Serve this turn (possibly out of order) to the first request containing this text: for parallel agents",
      ),
    // expectations about the request this turn answers
    expectTools: z.array(z.string()).optional().describe("Tool names that must be offered in the request"),
    expectMessageContains: z
      .array(z.string())
      .optional()
      .describe("Strings that must occur in the request's messages (system included)"),
    // the answer
    text: z.string().optional(),
    textChunks: z
      .array(z.string())
      .optional()
      .describe("Explicit text chunks; overrides the split of `text`"),
    reasoning: z.string().optional(),
    toolCalls: z.array(toolCallSchema).optional(),
    usage: z
      .object({
        inputTokens: z.number().int().nonnegative().optional(),
        outputTokens: z.number().int().nonnegative().optional(),
        cachedInputTokens: z.number().int().nonnegative().optional(),
      })
      .strict()
      .optional(),
    finishReason: z
      .string()
      .optional()
      .describe("Wire finish reason; defaults to tool_calls/tool_use or stop"),
    // faults
    status: z.number().int().min(400).max(599).optional().describe("Answer with this HTTP error instead"),
    retryAfter: z.number().nonnegative().optional().describe("retry-after header, seconds"),
    retryAfterMs: z.number().nonnegative().optional().describe("retry-after-ms header"),
    errorMessage: z.string().optional(),
    delayMs: z.number().nonnegative().optional().describe("Wait before the first byte"),
    chunkDelayMs: z.number().nonnegative().optional().describe("Wait between streamed chunks"),
    stallAfterChunks: z.number().int().nonnegative().optional().describe("Send n chunks, then go silent"),
    truncateAfterChunks: z
      .number()
      .int()
      .nonnegative()
      .optional()
      .describe("Send n chunks, then cut the socket"),
    endAfterChunks: z
      .number()
      .int()
      .nonnegative()
      .optional()
      .describe("Send n chunks, then end the response cleanly (no finish, no [DONE])"),
  })
  .strict();

export const scenarioSchema = z.union([
  z
    .object({ name: z.string().optional(), description: z.string().optional(), turns: z.array(turnSchema) })
    .strict(),
  z.array(turnSchema),
]);

export type FakeToolCall = z.infer<typeof toolCallSchema>;
export type FakeTurn = z.infer<typeof turnSchema>;
export type ScenarioInput = z.input<typeof scenarioSchema>;
export interface Scenario {
  name?: string;
  turns: FakeTurn[];
}

/** Validates a scenario (object or bare list of turns); throws a message naming the bad field. */
export function parseScenario(value: unknown, source = "scenario"): Scenario {
  const result = scenarioSchema.safeParse(value);
  if (!result.success) {
    const issues = result.error.issues
      .map((i) => `  ${i.path.join(".") || "(root)"}: ${i.message}`)
      .join("\n");
    throw new Error(`invalid fake-model scenario in ${source}:\n${issues}`);
  }
  const data = result.data;
  return Array.isArray(data) ? { turns: data } : { name: data.name, turns: data.turns };
}

export async function loadScenario(file: string): Promise<Scenario> {
  const text = await readFile(file, "utf8");
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`scenario file ${file} is not valid JSON: ${(error as Error).message}`);
  }
  return parseScenario(json, file);
}

/** Splits text into word-sized chunks ("Hello ", "world") so clients see several deltas. */
export function splitText(text: string): string[] {
  const chunks = text.match(/\s*\S+\s*/g);
  return chunks && chunks.join("") === text ? chunks : [text];
}

/** Splits argument text into up to three fragments, like real providers stream tool input. */
export function splitArguments(text: string): string[] {
  if (text.length < 3) return [text];
  const a = Math.floor(text.length / 3);
  const b = Math.floor((2 * text.length) / 3);
  return [text.slice(0, a), text.slice(a, b), text.slice(b)];
}

export function argumentsTextOf(call: FakeToolCall): string {
  return call.argumentsText ?? JSON.stringify(call.arguments ?? {});
}
