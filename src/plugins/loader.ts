import { existsSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { z } from "zod";
import { AGENT_NAME, type LoadedAgent } from "../agents/index.ts";
import { type EntourageEvent, errorMessage, RISKS, type Risk } from "../core/index.ts";
import { inputFromJsonSchema, type ToolDefinition } from "../tools/index.ts";
import { TOOL_NAME } from "../tools/mcp/names.ts";
import type { EntouragePlugin, JsonSchemaTool, PluginAgent, PluginContext } from "./api.ts";

/** A tool a plugin registered, with the agents it is granted to (undefined: the default ones). */
export interface PluginToolEntry {
  tool: ToolDefinition;
  plugin: string;
  agents?: readonly string[];
}

export interface PluginFailure {
  /** The module path as configured (absolute). */
  source: string;
  name?: string;
  message: string;
}

type Listener = (event: EntourageEvent) => void | Promise<void>;

export interface LoadedPlugins {
  loaded: { name: string; source: string; tools: string[]; agents: string[] }[];
  failures: PluginFailure[];
  tools: PluginToolEntry[];
  agents: LoadedAgent[];
  listeners: { plugin: string; listener: Listener }[];
}

const agentSchema = z
  .object({
    name: z.string().regex(AGENT_NAME, "use lower-case letters, digits, - and _"),
    description: z.string().trim().min(1),
    systemPrompt: z.string().trim().min(1),
    tools: z.array(z.string().min(1)).optional(),
    model: z.string().min(1).optional(),
    maxSteps: z.number().int().positive().optional(),
    maxTokens: z.number().int().positive().optional(),
    maxCostUsd: z.number().positive().optional(),
  })
  .strict();

/**
 * Imports each plugin module (absolute paths, in order) and runs its `setup`. A module that cannot be
 * imported, does not export a plugin, or whose `setup` throws is reported in `failures` and contributes
 * nothing; the others load. TypeScript modules load directly (Node strips their types).
 */
export async function loadPlugins(
  paths: readonly string[],
  context: { repo: string },
): Promise<LoadedPlugins> {
  const result: LoadedPlugins = { loaded: [], failures: [], tools: [], agents: [], listeners: [] };
  for (const source of paths) {
    let name: string | undefined;
    try {
      if (!existsSync(source)) throw new Error("the file does not exist");
      const module = (await import(pathToFileURL(source).href)) as { default?: unknown; plugin?: unknown };
      const plugin = (module.default ?? module.plugin) as Partial<EntouragePlugin> | undefined;
      if (!plugin || typeof plugin.name !== "string" || typeof plugin.setup !== "function") {
        throw new Error(
          "the module does not export a plugin: export default definePlugin({ name, setup(ctx) { … } })",
        );
      }
      name = plugin.name;
      const staged: Pick<LoadedPlugins, "tools" | "agents" | "listeners"> = {
        tools: [],
        agents: [],
        listeners: [],
      };
      const ctx: PluginContext = {
        name: plugin.name,
        repo: context.repo,
        registerTool: (tool, options) => {
          staged.tools.push({ tool: toToolDefinition(tool), plugin: plugin.name!, agents: options?.agents });
        },
        registerAgent: (agent) => {
          staged.agents.push(toAgent(agent, `${source} (plugin ${plugin.name})`));
        },
        onEvent: (listener) => {
          if (typeof listener !== "function") throw new Error("onEvent needs a function");
          staged.listeners.push({ plugin: plugin.name!, listener });
        },
      };
      await plugin.setup(ctx);
      result.tools.push(...staged.tools);
      result.agents.push(...staged.agents);
      result.listeners.push(...staged.listeners);
      result.loaded.push({
        name: plugin.name,
        source,
        tools: staged.tools.map((t) => t.tool.name),
        agents: staged.agents.map((a) => a.name),
      });
    } catch (error) {
      result.failures.push({
        source,
        name,
        message: `plugin ${name ? `"${name}" (${source})` : source} was skipped: ${errorMessage(error)}`,
      });
    }
  }
  return result;
}

function toToolDefinition(tool: ToolDefinition | JsonSchemaTool): ToolDefinition {
  const t = tool as Partial<ToolDefinition & JsonSchemaTool>;
  if (typeof t.name !== "string" || !TOOL_NAME.test(t.name)) {
    throw new Error(
      `registerTool: the tool name ${JSON.stringify(t.name)} is not valid (letters, digits, _ and -, at most 64 characters: providers refuse anything else)`,
    );
  }
  if (typeof t.description !== "string" || t.description.trim() === "") {
    throw new Error(`registerTool: the tool ${t.name} needs a description (the model reads it)`);
  }
  if (typeof t.execute !== "function") throw new Error(`registerTool: the tool ${t.name} needs execute()`);
  if (typeof t.risk !== "function" && !RISKS.includes(t.risk as Risk)) {
    throw new Error(`registerTool: the tool ${t.name} needs a risk: one of ${RISKS.join(", ")}`);
  }
  if (t.input && typeof (t.input as { safeParse?: unknown }).safeParse === "function") {
    return tool as ToolDefinition;
  }
  if (t.inputSchema && typeof t.inputSchema === "object") {
    const { input, inputJsonSchema } = inputFromJsonSchema(t.inputSchema);
    return {
      name: t.name,
      description: t.description,
      input,
      inputJsonSchema,
      risk: t.risk as ToolDefinition["risk"],
      execute: t.execute as ToolDefinition["execute"],
    };
  }
  throw new Error(
    `registerTool: the tool ${t.name} needs input (a zod schema, via defineTool) or inputSchema (JSON Schema)`,
  );
}

function toAgent(agent: PluginAgent, source: string): LoadedAgent {
  const parsed = agentSchema.safeParse(agent);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.code === "unrecognized_keys" ? issue.keys[0] : issue.path.join(".");
    throw new Error(`registerAgent: field "${field}": ${issue.message}`);
  }
  const a = parsed.data;
  const tools = a.tools ?? ["read_file", "list_files", "search"];
  return {
    ...a,
    tools: tools.includes("finish") ? tools : [...tools, "finish"],
    source,
  };
}

/**
 * Delivers a run's events to the plugins' listeners, in order, one listener's failure never reaching the
 * run or the other listeners. `flush` waits for listeners still working (e.g. a POST on run.finished).
 */
export class PluginEvents {
  private readonly listeners: LoadedPlugins["listeners"];
  private readonly pending = new Set<Promise<void>>();
  private readonly report: (message: string) => void;

  constructor(listeners: LoadedPlugins["listeners"], report: (message: string) => void) {
    this.listeners = listeners;
    this.report = report;
  }

  get active(): boolean {
    return this.listeners.length > 0;
  }

  dispatch(event: EntourageEvent): void {
    for (const { plugin, listener } of this.listeners) {
      const fail = (error: unknown) =>
        this.report(`plugin "${plugin}": its event listener failed on ${event.type}: ${errorMessage(error)}`);
      try {
        const result = listener(event);
        if (result && typeof (result as Promise<void>).then === "function") {
          const p = (result as Promise<void>).catch(fail).finally(() => this.pending.delete(p));
          this.pending.add(p);
        }
      } catch (error) {
        fail(error);
      }
    }
  }

  /** Waits for pending listeners, at most `timeoutMs`; reports the ones still running. */
  async flush(timeoutMs = 10_000): Promise<void> {
    if (this.pending.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), timeoutMs);
    });
    const outcome = await Promise.race([Promise.all([...this.pending]), timedOut]);
    clearTimeout(timer);
    if (outcome === "timeout") {
      this.report(
        `${this.pending.size} plugin event listener(s) still running after ${timeoutMs / 1000} s; not waiting longer`,
      );
    }
  }
}
