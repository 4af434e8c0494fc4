/** An agent: a role prompt, a tool allow-list, an optional model of its own and a step budget. */
export interface AgentDefinition {
  name: string;
  /** One line: what the agent is for (shown in views and to planners). */
  description: string;
  systemPrompt: string;
  /** Names of the tools the agent may call; calls to any other tool are refused. */
  tools: readonly string[];
  /** Model id override; default: the run's model. */
  model?: string;
  /** Step budget override; default: the run's `maxSteps`. */
  maxSteps?: number;
  /** This agent's own caps (the run's caps apply too). */
  maxTokens?: number;
  maxCostUsd?: number;
}
