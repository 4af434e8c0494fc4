import { z } from "zod";
import { defineEvent } from "./envelope.ts";

/**
 * What a run loaded besides the built-ins, and what failed to load: project instructions, custom agents
 * (files and plugins), MCP servers, plugins. A failure never stops the run; it is recorded here, with the
 * file or server it came from, so the live view, the log and the API all show it.
 */
export const extensionKindSchema = z.enum([
  "instructions",
  "agent",
  "mcp",
  "plugin",
  "pipeline",
  /** The repository's settings that need trust (src/config/trust.ts): loaded when trusted, else left out. */
  "settings",
]);
export type ExtensionKind = z.infer<typeof extensionKindSchema>;

export const extensionLoaded = defineEvent("extension.loaded", () =>
  z.object({
    kind: extensionKindSchema,
    name: z.string(),
    /** Where it came from: a file path, `mcpServers.<name>` of a config file, a plugin module. */
    source: z.string(),
    /** Tools it contributed (MCP servers, plugins), by the name agents and approval rules use. */
    tools: z.array(z.string()).optional(),
    /** One line for the views, e.g. "replaces the built-in implementer", "truncated to 16000 characters". */
    note: z.string().optional(),
  }),
);

export const extensionFailed = defineEvent("extension.failed", () =>
  z.object({
    kind: extensionKindSchema,
    name: z.string().optional(),
    source: z.string(),
    /** What went wrong, naming the file and field or the server, and what to do. */
    message: z.string(),
  }),
);
