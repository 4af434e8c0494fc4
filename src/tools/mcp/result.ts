/** The parts of an MCP `tools/call` result the bridge reads (the SDK's type, loosely). */
export interface McpCallResult {
  content?: unknown;
  structuredContent?: unknown;
  isError?: unknown;
  toolResult?: unknown;
}

/**
 * An MCP tool result as text for the model: text parts as they are, embedded text resources with their
 * URI, binary parts (images, audio, blobs) named with their size but not inlined, structured content as
 * JSON when there is no text.
 */
export function mcpResultText(result: McpCallResult): string {
  const parts: string[] = [];
  const content = Array.isArray(result.content) ? (result.content as Record<string, unknown>[]) : [];
  for (const item of content) {
    switch (item.type) {
      case "text":
        parts.push(String(item.text ?? ""));
        break;
      case "image":
      case "audio":
        parts.push(`[${item.type} ${String(item.mimeType ?? "")}, ${sizeOf(item.data)} omitted]`);
        break;
      case "resource_link":
        parts.push(`[resource ${String(item.uri ?? "")}${item.name ? ` (${String(item.name)})` : ""}]`);
        break;
      case "resource": {
        const resource = (item.resource ?? {}) as Record<string, unknown>;
        if (typeof resource.text === "string")
          parts.push(`[resource ${String(resource.uri)}]\n${resource.text}`);
        else
          parts.push(`[resource ${String(resource.uri)}: ${sizeOf(resource.blob)} of binary data omitted]`);
        break;
      }
      default:
        parts.push(JSON.stringify(item));
    }
  }
  if (parts.length === 0 && result.structuredContent !== undefined) {
    parts.push(JSON.stringify(result.structuredContent, null, 2));
  }
  if (parts.length === 0 && result.toolResult !== undefined) parts.push(JSON.stringify(result.toolResult));
  return parts.join("\n");
}

function sizeOf(base64: unknown): string {
  const bytes = typeof base64 === "string" ? Math.floor((base64.length * 3) / 4) : 0;
  return bytes >= 1024 ? `${Math.round(bytes / 1024)} KiB` : `${bytes} bytes`;
}
