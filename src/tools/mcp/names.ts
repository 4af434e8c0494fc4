import { createHash } from "node:crypto";

/**
 * Tool names every provider accepts: OpenAI (`^[a-zA-Z0-9_-]{1,64}$`) and Anthropic
 * (`^[a-zA-Z0-9_-]{1,128}$`) both refuse dots, so MCP tools are namespaced `<server>__<tool>`, not
 * `<server>.<tool>`.
 */
export const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

/** Separator between an MCP server's name and its tool's name. */
export const MCP_SEPARATOR = "__";

/**
 * The Entourage name of an MCP tool: `<server>__<tool>`, with any character a provider refuses replaced
 * by `_`, and names over 64 characters shortened with a hash of the original so they stay unique.
 */
export function mcpToolName(server: string, tool: string): string {
  const raw = `${server}${MCP_SEPARATOR}${tool}`;
  const clean = raw.replace(/[^a-zA-Z0-9_-]/g, "_");
  return clean.length <= 64 ? clean : withHash(clean, raw);
}

/** `name` cut to fit 64 characters with a hash of `original`: unique again after sanitising. */
export function withHash(name: string, original: string): string {
  const hash = createHash("sha256").update(original).digest("hex").slice(0, 8);
  return `${name.slice(0, 55)}_${hash}`;
}
