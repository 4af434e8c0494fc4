/**
 * What a run takes from the project and the user besides the task: project instructions (AGENTS.md,
 * .entourage/instructions.md), custom agents (files and plugins), MCP servers' tools and plugins. Part of
 * the composition root: it picks the MCP bridge and imports plugin modules. Nothing here stops a run:
 * whatever fails to load is reported as an `extension.failed` event and left out.
 */
import { existsSync, readFileSync } from "node:fs";
import { isAbsolute, join, relative, resolve } from "node:path";
import {
  AGENT_NAME,
  type AgentDefinition,
  AgentRoster,
  composeProjectContext,
  describeAgentProblem,
  type LoadedAgent,
  loadAgentFiles,
  type ProjectContextParts,
  type ProjectInstructions,
  readProjectInstructions,
  toolAllowed,
} from "../agents/index.ts";
import type { Config, McpServerConfig } from "../config/index.ts";
import type { AgentSpec, EntourageEvent, EventData, NewEvent } from "../core/index.ts";
import { errorMessage } from "../core/index.ts";
import type { Model } from "../llm/index.ts";
import type { LoadedPlugins } from "../plugins/loader.ts";
import type { EventStore } from "../store/index.ts";
import { builtinTools } from "../tools/builtin/index.ts";
import type { ToolDefinition } from "../tools/index.ts";
import type { McpBridge } from "../tools/mcp/index.ts";

/** Agents that get an MCP server's or a plugin's tools unless the config says otherwise: those that run commands. */
export const DEFAULT_TOOL_GRANTS: readonly string[] = ["general", "implementer", "tester"];

const PROVIDERS = new Set(["openai", "anthropic", "google", "openai-compatible"]);

export interface LoadProjectOptions {
  repo: string;
  /** ENTOURAGE_HOME: user agents are in `<home>/agents`. */
  home: string;
  config: Pick<Config, "mcpServers" | "plugins" | "pipeline">;
  /** The run's workspace copy: stdio MCP servers start there unless their config says `cwd`. */
  workspace?: string;
  /** The run's model; an agent naming another model of the same provider gets one from `buildModel`. */
  model: Pick<Model, "provider" | "id" | "scripted">;
  buildModel?: (modelId: string) => Promise<Model>;
  /**
   * A resumed run's `run.created`: its instructions, agents, tool grants and pipeline are used as recorded
   * (the same prompts as before the crash); only tools (MCP servers, plugins) are set up again.
   */
  recorded?: EventData<"run.created">;
  /** More of the project context (e.g. lessons), composed with the instructions read here. */
  context?: Omit<ProjectContextParts, "instructions">;
  env?: NodeJS.ProcessEnv;
}

export interface Project {
  /** The `run.created` fields of a new run. */
  created: Pick<EventData<"run.created">, "projectContext" | "agents" | "agentTools" | "pipeline">;
  instructions: ProjectInstructions[];
  /** Every tool of the run: built-ins, MCP servers', plugins'. */
  tools: ToolDefinition[];
  /** Models of agents that name their own. */
  modelFor: (modelId: string) => Model | undefined;
  /** `extension.loaded` / `extension.failed` events, logged by `attach` after `run.created`. */
  events: NewEvent[];
  /**
   * Connects the project to the run's log: writes `events`, delivers the run's events (from `fromSeq`)
   * to the plugins' listeners, and logs an MCP server that stops mid-run. Call it after `run.created`.
   */
  attach(store: EventStore, runId: string, fromSeq?: number): Promise<void>;
  /** Detaches, waits (bounded) for plugin listeners still working, stops the MCP servers. */
  close(): Promise<void>;
}

/** Loads everything a run takes from the project; never throws for a broken extension. */
export async function loadProject(options: LoadProjectOptions): Promise<Project> {
  const { repo, config, recorded } = options;
  const events: NewEvent[] = [];
  const loaded = (data: EventData<"extension.loaded">) => events.push({ type: "extension.loaded", data });
  const failed = (data: EventData<"extension.failed">) => events.push({ type: "extension.failed", data });

  // MCP servers start while the rest loads; one whose script the run's agents changed does not.
  const mcpSpecs = Object.entries(config.mcpServers).filter(([name, s]) => {
    if (!s.enabled) return false;
    const changed =
      s.cwd === undefined && options.workspace ? changedScript(s, repo, options.workspace) : undefined;
    if (changed)
      failed({
        kind: "mcp",
        name,
        source: `mcpServers.${name}`,
        message: `Not started: it runs ${changed} from the run's workspace, outside the sandbox, and the run changed that file (it differs from your checkout's). Apply or discard the change first; the run goes on without its tools.`,
      });
    return !changed;
  });
  const mcpPending: Promise<McpBridge | undefined> =
    mcpSpecs.length === 0
      ? Promise.resolve(undefined)
      : import("../tools/mcp/index.ts").then(({ connectMcpServers }) =>
          connectMcpServers(
            mcpSpecs.map(([name, s]) => ({
              name,
              command: s.command,
              args: s.args,
              env: s.env,
              cwd: s.cwd ?? options.workspace,
              url: s.url,
              headers: s.headers,
              risk: s.risk,
              toolRisk: s.toolRisk,
              startupTimeoutMs: s.startupTimeoutSeconds * 1000,
              callTimeoutMs: s.timeoutSeconds * 1000,
            })),
            { env: options.env, onStopped: (problem) => stoppedServer(problem.server, withStderr(problem)) },
          ),
        );

  // Instructions: read now for a new run; a resumed run keeps the context it was created with.
  const instructions = recorded ? [] : await readProjectInstructions(repo);
  for (const doc of instructions) {
    loaded({
      kind: "instructions",
      name: doc.file,
      source: join(repo, doc.file),
      note: doc.truncatedFrom
        ? `${doc.truncatedFrom} characters, cut to ${doc.text.length} (the agents are told how to read the rest)`
        : undefined,
    });
  }

  // Plugins, then agent files: a repo file overrides a user file overrides a plugin's agent overrides a built-in.
  let plugins: LoadedPlugins = { loaded: [], failures: [], tools: [], agents: [], listeners: [] };
  if (config.plugins.length > 0) {
    const { loadPlugins } = await import("../plugins/loader.ts");
    plugins = await loadPlugins(config.plugins, { repo });
  }
  for (const f of plugins.failures)
    failed({ kind: "plugin", name: f.name, source: f.source, message: f.message });

  let custom: LoadedAgent[] = [];
  if (recorded) {
    custom = (recorded.agents ?? []).map((a) => ({ ...a }));
  } else {
    const files = await loadAgentFiles([join(options.home, "agents"), join(repo, ".entourage", "agents")]);
    for (const problem of files.problems) {
      failed({
        kind: "agent",
        name: nameFromFile(problem.file),
        source: problem.file,
        message: `${describeAgentProblem(problem)}. The agent was not loaded; the others were.`,
      });
    }
    const byName = new Map<string, LoadedAgent>();
    for (const agent of [...plugins.agents, ...files.agents]) byName.set(agent.name, agent);
    custom = [...byName.values()];
    const builtins = new AgentRoster();
    for (const agent of custom) {
      const overridden = [...plugins.agents, ...files.agents].filter(
        (a) => a.name === agent.name && a !== agent,
      );
      const notes = [
        builtins.get(agent.name) ? `replaces the built-in ${agent.name}` : undefined,
        ...overridden.map((a) => `overrides ${a.source}`),
      ].filter(Boolean);
      loaded({ kind: "agent", name: agent.name, source: agent.source, note: notes.join("; ") || undefined });
    }
  }

  // Tools: the built-ins, then every MCP server's, then the plugins' (a name already taken is refused).
  const mcp = await mcpPending;
  const tools: ToolDefinition[] = [...builtinTools, ...(mcp?.tools ?? [])];
  const agentTools: Record<string, string[]> = {};
  const knownAgents = new AgentRoster(custom);
  const grant = (agents: readonly string[], names: readonly string[], source: string) => {
    for (const agent of agents) {
      if (!knownAgents.get(agent)) {
        failed({
          kind: "agent",
          name: agent,
          source,
          message: `${source} grants tools to the agent "${agent}", which does not exist (built-in or custom); ignored.`,
        });
        continue;
      }
      agentTools[agent] = [...new Set([...(agentTools[agent] ?? []), ...names])];
    }
  };
  for (const server of mcp?.servers ?? []) {
    const s = config.mcpServers[server.name]!;
    const agents = s.agents ?? DEFAULT_TOOL_GRANTS;
    if (!recorded) grant(agents, server.tools, `mcpServers.${server.name}.agents`);
    loaded({
      kind: "mcp",
      name: server.name,
      source: `mcpServers.${server.name}`,
      tools: server.tools,
      note: `runs outside the sandbox; risk ${s.risk}; for ${agents.length ? agents.join(", ") : "agents that list its tools"}`,
    });
  }
  for (const f of mcp?.failures ?? []) {
    failed({
      kind: "mcp",
      name: f.server,
      source: `mcpServers.${f.server}`,
      message: withStderr({ ...f, message: `${f.message} The run goes on without its tools.` }),
    });
  }
  for (const entry of plugins.tools) {
    if (tools.some((t) => t.name === entry.tool.name)) {
      failed({
        kind: "plugin",
        name: entry.plugin,
        source: `plugin ${entry.plugin}`,
        message: `plugin "${entry.plugin}" registers the tool ${entry.tool.name}, but that name is taken; its tool was skipped.`,
      });
      continue;
    }
    tools.push(entry.tool);
    if (!recorded) grant(entry.agents ?? DEFAULT_TOOL_GRANTS, [entry.tool.name], `plugin ${entry.plugin}`);
  }
  for (const p of plugins.loaded) {
    loaded({
      kind: "plugin",
      name: p.name,
      source: p.source,
      tools: p.tools.length ? p.tools : undefined,
      note: p.agents.length ? `agents: ${p.agents.join(", ")}` : undefined,
    });
  }

  // Allow-list entries that match no tool of this run are worth a warning (a typo, a server that failed).
  if (!recorded) {
    for (const agent of custom) {
      const missing = agent.tools.filter((entry) => !tools.some((t) => toolAllowed([entry], t.name)));
      if (missing.length > 0) {
        failed({
          kind: "agent",
          name: agent.name,
          source: agent.source,
          message: `${agent.source}: field "tools" names ${missing.join(", ")}, which this run does not have; the agent runs without ${missing.length === 1 ? "it" : "them"}.`,
        });
      }
    }
  }

  // Models: an agent may name another model of the run's provider; anything else runs on the run's model.
  const models = new Map<string, Model>();
  for (const agent of custom) {
    if (agent.model === undefined) continue;
    const problem = await agentModel(agent, options, models);
    if (problem) {
      failed({ kind: "agent", name: agent.name, source: agent.source, message: problem });
      agent.model = undefined;
    }
  }

  // Extra pipeline phases: only agents that exist.
  let pipeline = recorded ? recorded.pipeline : undefined;
  if (!recorded && config.pipeline) {
    const after: NonNullable<EventData<"run.created">["pipeline"]>["after"] = {};
    for (const [stage, names] of Object.entries(config.pipeline.after) as [keyof typeof after, string[]][]) {
      after[stage] = names.filter((name) => {
        if (knownAgents.get(name)) return true;
        failed({
          kind: "pipeline",
          name,
          source: `pipeline.after.${stage}`,
          message: `pipeline.after.${stage} names the agent "${name}", which did not load (see above, or add .entourage/agents/${name}.md); the pipeline runs without that phase.`,
        });
        return false;
      });
    }
    pipeline = { after };
  }

  const projectContext = recorded
    ? recorded.projectContext
    : composeProjectContext({ instructions, ...options.context });

  let attached: { store: EventStore; runId: string; unsubscribe: () => void } | undefined;
  const stoppedLater: NewEvent[] = [];
  let pluginEvents: import("../plugins/loader.ts").PluginEvents | undefined;
  function stoppedServer(server: string, message: string): void {
    const event: NewEvent = {
      type: "extension.failed",
      data: { kind: "mcp", name: server, source: `mcpServers.${server}`, message },
    };
    if (attached) attached.store.append(attached.runId, [event]).catch(() => {});
    else stoppedLater.push(event);
  }

  return {
    created: {
      projectContext,
      agents: custom.length ? custom.map(toSpec) : undefined,
      agentTools: Object.keys(agentTools).length ? agentTools : recorded?.agentTools,
      pipeline,
    },
    instructions,
    tools,
    modelFor: (id) => models.get(id),
    events,
    async attach(store, runId, fromSeq = 0) {
      let unsubscribe = () => {};
      if (plugins.listeners.length > 0) {
        const { PluginEvents } = await import("../plugins/loader.ts");
        const host = new PluginEvents(plugins.listeners, (m) => process.stderr.write(`entourage: ${m}\n`));
        pluginEvents = host;
        for (const e of await store.read(runId, { fromSeq })) host.dispatch(e);
        unsubscribe = store.subscribe(runId, (e: EntourageEvent) => host.dispatch(e));
      }
      attached = { store, runId, unsubscribe };
      const pending = [...events, ...stoppedLater];
      if (pending.length > 0) await store.append(runId, pending);
    },
    async close() {
      attached?.unsubscribe();
      await pluginEvents?.flush();
      attached = undefined;
      await mcp?.close();
    },
  };
}

/**
 * The file of the repository an MCP server started in the workspace would run (its command or an argument
 * naming a file there) when the workspace's copy differs from the checkout's: the agents wrote it, and the
 * server runs outside the sandbox.
 */
function changedScript(server: McpServerConfig, repo: string, workspace: string): string | undefined {
  for (const word of [server.command, ...(server.args ?? [])]) {
    if (!word || !/[/.]/.test(word) || isAbsolute(word)) continue;
    const inWorkspace = resolve(workspace, word);
    if (relative(workspace, inWorkspace).startsWith("..") || !existsSync(inWorkspace)) continue;
    const mine = readOrUndefined(inWorkspace);
    if (mine && !mine.equals(readOrUndefined(resolve(repo, word)) ?? Buffer.alloc(0))) return word;
  }
  return undefined;
}

function readOrUndefined(file: string): Buffer | undefined {
  try {
    return readFileSync(file);
  } catch {
    return undefined; // a folder, unreadable
  }
}

/** A problem's message, then the server's last stderr lines (often the actual reason). */
function withStderr(problem: { message: string; stderr?: string }): string {
  return problem.stderr
    ? `${problem.message}\nIts last output on stderr:\n${problem.stderr}`
    : problem.message;
}

function toSpec(agent: LoadedAgent): AgentSpec {
  const { name, description, systemPrompt, tools, model, maxSteps, maxTokens, maxCostUsd, source } = agent;
  return {
    name,
    description,
    systemPrompt,
    tools: [...tools],
    model,
    maxSteps,
    maxTokens,
    maxCostUsd,
    source,
  };
}

function nameFromFile(file: string): string | undefined {
  const name = file.split("/").pop()?.replace(/\.md$/, "");
  return name && AGENT_NAME.test(name) ? name : undefined;
}

/**
 * Builds the model an agent names, when the composition root can: same provider (a bare id, or
 * `<provider>/<id>` with the run's provider), not the scripted demo model. Returns why not otherwise.
 */
async function agentModel(
  agent: AgentDefinition & { source: string },
  options: LoadProjectOptions,
  models: Map<string, Model>,
): Promise<string | undefined> {
  const named = agent.model!;
  const slash = named.indexOf("/");
  const provider = slash > 0 ? named.slice(0, slash) : undefined;
  const id = provider && PROVIDERS.has(provider) ? named.slice(slash + 1) : named;
  const fallback = `; ${agent.name} runs on the run's model (${options.model.provider}/${options.model.id}) instead`;
  if (provider && PROVIDERS.has(provider) && provider !== options.model.provider) {
    return `${agent.source}: field "model" names ${named}, a model of another provider than the run's (${options.model.provider}): only models of the run's provider can be used${fallback}.`;
  }
  agent.model = id;
  if (id === options.model.id || models.has(id)) return undefined;
  if (options.model.scripted || !options.buildModel) {
    return `${agent.source}: field "model" (${named}) cannot be used with the scripted demo model${fallback}.`;
  }
  try {
    models.set(id, await options.buildModel(id));
    return undefined;
  } catch (error) {
    return `${agent.source}: field "model" (${named}) cannot be used: ${errorMessage(error)}${fallback}.`;
  }
}
