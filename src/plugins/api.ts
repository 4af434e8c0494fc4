/**
 * The plugin API: what a local TypeScript (or JavaScript) module listed in `plugins` of a config file can
 * do at run start — register tools, register agents, and listen to the run's events.
 *
 * ```ts
 * import { definePlugin, defineTool, z } from "entourage/plugin";
 *
 * export default definePlugin({
 *   name: "notify",
 *   setup(ctx) {
 *     ctx.onEvent(async (event) => {
 *       if (event.type === "run.finished") await fetch(URL, { method: "POST", body: event.data.summary });
 *     });
 *   },
 * });
 * ```
 *
 * Plugins run in the Entourage process, outside the sandbox, with your permissions: list only code you
 * trust. A plugin whose module fails to load or whose `setup` throws is reported and skipped.
 */
import type { EntourageEvent, EventType } from "../core/index.ts";
import type { Risk, ToolContext, ToolDefinition, ToolResult } from "../tools/index.ts";

// The same zod the engine uses, so a plugin's schemas convert to JSON Schema exactly like built-in tools'.
export { z } from "zod";
export type { EntourageEvent, EventType } from "../core/index.ts";
export type { Risk, ToolContext, ToolDefinition, ToolResult } from "../tools/index.ts";
export { defineTool } from "../tools/tool.ts";

/** A tool described with JSON Schema instead of zod (no dependency needed in the plugin). */
export interface JsonSchemaTool {
  name: string;
  description: string;
  /** JSON Schema of the arguments (an object schema). */
  inputSchema: Record<string, unknown>;
  risk: Risk;
  execute(input: Record<string, unknown>, ctx: ToolContext): Promise<ToolResult>;
}

/** An agent a plugin adds (or a built-in it replaces, by name). */
export interface PluginAgent {
  name: string;
  description: string;
  /** The role prompt. */
  systemPrompt: string;
  /** Tool allow-list: names or globs (`github__*`); `finish` is always added. */
  tools?: readonly string[];
  model?: string;
  maxSteps?: number;
  maxTokens?: number;
  maxCostUsd?: number;
}

export interface RegisterToolOptions {
  /**
   * Agents that get the tool besides those whose allow-list names it. Default: the agents that already
   * run commands (general, implementer, tester); `[]` for none.
   */
  agents?: readonly string[];
}

/** What `setup` receives. Registrations take effect only if `setup` returns without throwing. */
export interface PluginContext {
  /** The plugin's name. */
  readonly name: string;
  /** The repository of the run (your checkout; the agents work on a private copy of it). */
  readonly repo: string;
  /** Adds a tool, subject to the same approval rules as the built-ins (by its risk and name). */
  registerTool(tool: ToolDefinition | JsonSchemaTool, options?: RegisterToolOptions): void;
  /** Adds an agent: the planner may delegate to it and `pipeline.after` may name it. */
  registerAgent(agent: PluginAgent): void;
  /**
   * Calls `listener` with every event of the run, in order, as it is written (`run.created` through
   * `run.finished`). A listener that throws or rejects is reported and never affects the run; the run's
   * process waits (at most 10 s) for pending listeners before it exits.
   */
  onEvent(listener: (event: EntourageEvent) => void | Promise<void>): void;
}

export interface EntouragePlugin {
  name: string;
  setup(ctx: PluginContext): void | Promise<void>;
}

/** Declares a plugin: export the result as the module's default export. Identity at run time. */
export function definePlugin(plugin: EntouragePlugin): EntouragePlugin {
  return plugin;
}

/** Narrows an event by type, for listeners: `if (isEvent(event, "run.finished")) event.data.status`. */
export function isEvent<T extends EventType>(
  event: EntourageEvent,
  type: T,
): event is Extract<EntourageEvent, { type: T }> {
  return event.type === type;
}
