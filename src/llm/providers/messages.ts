import type { ModelMessage as SdkMessage, ToolSet } from "ai";
import type { ModelMessage, ModelToolSpec } from "../model.ts";

/**
 * Converts our persisted message shape to the AI SDK's. Pure, so the conversion is easy to test and
 * the same input always yields the same request bytes (prompt caches depend on it).
 */
export function toSdkMessages(messages: readonly ModelMessage[]): SdkMessage[] {
  const out: SdkMessage[] = [];
  for (const message of messages) {
    switch (message.role) {
      case "user":
        out.push({ role: "user", content: message.content });
        break;
      case "assistant": {
        const content: Exclude<Extract<SdkMessage, { role: "assistant" }>["content"], string> = [];
        if (message.text) content.push({ type: "text", text: message.text });
        for (const call of message.toolCalls) {
          // Providers require an object input; a malformed call (args = raw text) is sent as {} and its
          // tool result carries the error and the raw text back to the model.
          const input =
            call.args !== null && typeof call.args === "object" && !Array.isArray(call.args) ? call.args : {};
          content.push({ type: "tool-call", toolCallId: call.id, toolName: call.name, input });
        }
        // An assistant message with nothing in it is rejected by some providers; it carries no information.
        if (content.length > 0) out.push({ role: "assistant", content });
        break;
      }
      case "tool":
        out.push({
          role: "tool",
          content: message.results.map((r) => ({
            type: "tool-result" as const,
            toolCallId: r.callId,
            toolName: r.name,
            output: r.isError
              ? { type: "error-text" as const, value: r.output }
              : { type: "text" as const, value: r.output },
          })),
        });
        break;
    }
  }
  return out;
}

/** Tools as schemas only: no `execute`, so the SDK never runs a tool; the engine does. */
export function toSdkTools(
  tools: readonly ModelToolSpec[],
  sdk: { tool: typeof import("ai").tool; jsonSchema: typeof import("ai").jsonSchema },
): ToolSet | undefined {
  if (tools.length === 0) return undefined;
  const set: ToolSet = {};
  for (const spec of tools) {
    set[spec.name] = sdk.tool({
      description: spec.description,
      inputSchema: sdk.jsonSchema(spec.inputSchema as Parameters<typeof sdk.jsonSchema>[0]),
    });
  }
  return set;
}
