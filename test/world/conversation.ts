/**
 * What a model sees in one request, read from either wire format into one shape: the system prompt, the
 * turns (user text, assistant text and tool calls, tool results) and the tools offered. Nothing here knows
 * which program sent the request.
 */

export type WireApi = "openai" | "anthropic";

export interface OfferedTool {
  name: string;
  description: string;
  /** The JSON schema of the tool's input, as sent. */
  parameters: JsonSchema;
}

export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  enum?: unknown[];
  description?: string;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  minimum?: number;
  [key: string]: unknown;
}

export interface SeenCall {
  id: string;
  name: string;
  args: Record<string, unknown>;
  /** The result sent back for this call, once there is one. */
  result?: { text: string; isError: boolean };
  /** Position of the assistant turn that made the call (0-based among assistant turns). */
  turn: number;
}

export interface Conversation {
  system: string;
  /** Every user text in order (tool results excluded). */
  userTexts: string[];
  /** Every assistant text in order. */
  assistantTexts: string[];
  calls: SeenCall[];
  /** Number of assistant turns so far. */
  assistantTurns: number;
  tools: OfferedTool[];
}

type Json = Record<string, unknown>;

function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content))
    return content
      .map((part) => {
        if (typeof part === "string") return part;
        const p = part as Json;
        if (typeof p.text === "string") return p.text;
        if (p.content !== undefined) return textOf(p.content);
        return "";
      })
      .join("\n");
  return "";
}

function parseArgs(raw: unknown): Record<string, unknown> {
  if (raw && typeof raw === "object" && !Array.isArray(raw)) return raw as Record<string, unknown>;
  if (typeof raw !== "string" || raw.trim() === "") return {};
  try {
    const value = JSON.parse(raw);
    return value && typeof value === "object" && !Array.isArray(value) ? value : {};
  } catch {
    return {};
  }
}

/** Reads a chat-completions or messages request body into a Conversation. */
export function readConversation(api: WireApi, body: Json): Conversation {
  const conversation: Conversation = {
    system: "",
    userTexts: [],
    assistantTexts: [],
    calls: [],
    assistantTurns: 0,
    tools: [],
  };
  const byId = new Map<string, SeenCall>();
  const systems: string[] = [];
  if (api === "anthropic" && body.system !== undefined) systems.push(textOf(body.system));
  const messages = Array.isArray(body.messages) ? (body.messages as Json[]) : [];
  for (const message of messages) {
    const role = message.role;
    if (role === "system" || role === "developer") {
      systems.push(textOf(message.content));
    } else if (role === "user") {
      if (api === "anthropic" && Array.isArray(message.content)) {
        const texts: string[] = [];
        for (const block of message.content as Json[]) {
          if (block.type === "tool_result") {
            const call = byId.get(String(block.tool_use_id));
            if (call) call.result = { text: textOf(block.content), isError: block.is_error === true };
          } else if (block.type === "text" && typeof block.text === "string") texts.push(block.text);
        }
        if (texts.length > 0) conversation.userTexts.push(texts.join("\n"));
      } else {
        conversation.userTexts.push(textOf(message.content));
      }
    } else if (role === "assistant") {
      const turn = conversation.assistantTurns++;
      if (api === "anthropic" && Array.isArray(message.content)) {
        for (const block of message.content as Json[]) {
          if (block.type === "text" && typeof block.text === "string")
            conversation.assistantTexts.push(block.text);
          if (block.type === "tool_use") {
            const call: SeenCall = {
              id: String(block.id),
              name: String(block.name),
              args: parseArgs(block.input),
              turn,
            };
            conversation.calls.push(call);
            byId.set(call.id, call);
          }
        }
      } else {
        const text = textOf(message.content);
        if (text) conversation.assistantTexts.push(text);
        for (const tc of (Array.isArray(message.tool_calls) ? message.tool_calls : []) as Json[]) {
          const fn = (tc.function ?? {}) as Json;
          const call: SeenCall = {
            id: String(tc.id),
            name: String(fn.name),
            args: parseArgs(fn.arguments),
            turn,
          };
          conversation.calls.push(call);
          byId.set(call.id, call);
        }
      }
    } else if (role === "tool") {
      const call = byId.get(String(message.tool_call_id));
      const text = textOf(message.content);
      // OpenAI tool messages carry no error flag; a model reads the text.
      if (call) call.result = { text, isError: false };
    }
  }
  conversation.system = systems.join("\n\n");
  for (const tool of (Array.isArray(body.tools) ? body.tools : []) as Json[]) {
    if (api === "openai") {
      const fn = (tool.function ?? {}) as Json;
      if (typeof fn.name !== "string") continue;
      conversation.tools.push({
        name: fn.name,
        description: typeof fn.description === "string" ? fn.description : "",
        parameters: (fn.parameters ?? {}) as JsonSchema,
      });
    } else {
      if (typeof tool.name !== "string") continue;
      conversation.tools.push({
        name: tool.name,
        description: typeof tool.description === "string" ? tool.description : "",
        parameters: (tool.input_schema ?? {}) as JsonSchema,
      });
    }
  }
  return conversation;
}
