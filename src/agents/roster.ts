import { globMatch } from "../core/glob.ts";
import type { AgentDefinition } from "./agent.ts";
import { builtinAgents, plannerAgent } from "./builtin.ts";
import { generalAgent } from "./general.ts";

/**
 * Whether an allow-list lets an agent use a tool. Entries are tool names or globs, the same globs as
 * approval rules (src/core/glob.ts): `github__*` allows every tool of the MCP server `github`.
 */
export function toolAllowed(allowList: readonly string[], tool: string): boolean {
  return allowList.some((entry) => entry === tool || globMatch(entry, tool));
}

/** Agents that orchestrate rather than specialise: never offered to the planner as delegates. */
const ORCHESTRATING: ReadonlySet<string> = new Set(["planner", "general"]);

/**
 * The agents of a run by name: the built-ins, replaced or joined by custom agents (files, plugins), each
 * with the extra tools granted to it (`agentTools`: MCP and plugin tools for built-in agents).
 */
export class AgentRoster {
  private readonly agents = new Map<string, AgentDefinition>();
  private readonly custom = new Set<string>();

  constructor(
    custom: readonly AgentDefinition[] = [],
    agentTools: Readonly<Record<string, readonly string[]>> = {},
  ) {
    for (const agent of [...builtinAgents, plannerAgent, generalAgent]) this.agents.set(agent.name, agent);
    for (const agent of custom) {
      this.agents.set(agent.name, agent);
      this.custom.add(agent.name);
    }
    for (const [name, extra] of Object.entries(agentTools)) {
      const agent = this.agents.get(name);
      if (!agent) continue;
      const tools = [...agent.tools, ...extra.filter((t) => !agent.tools.includes(t))];
      this.agents.set(name, { ...agent, tools });
    }
  }

  get(name: string): AgentDefinition | undefined {
    return this.agents.get(name);
  }

  /** The agent by name; the built-in (with its grants) is always there unless replaced. */
  require(name: string): AgentDefinition {
    const agent = this.agents.get(name);
    if (!agent) throw new Error(`no agent named ${name}`);
    return agent;
  }

  isCustom(name: string): boolean {
    return this.custom.has(name);
  }

  /** The agents a planner may delegate to: the specialists, built-in and custom. */
  delegates(): AgentDefinition[] {
    return [...this.agents.values()].filter((a) => !ORCHESTRATING.has(a.name));
  }
}
