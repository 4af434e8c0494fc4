import type { EntourageEvent, EventData } from "../../core/index.ts";
import type { ModelMessage } from "../../llm/index.ts";

type StepEnded = EventData<"agent.step.ended">;

/** What an agent has done so far, derived from its events alone (no second source of truth). */
export interface AgentHistory {
  messages: ModelMessage[];
  /** Last step whose model answer was recorded. */
  lastStep: number;
  /** The last recorded assistant turn, if any. */
  lastTurn?: StepEnded;
  /** Tool calls with a `tool.call.requested` event, by call id, with the recorded risk. */
  requested: Map<string, EventData<"tool.call.requested">>;
  /** Tool calls that began executing (`tool.call.started`). */
  started: Set<string>;
  /** Tool calls with a result. */
  ended: Set<string>;
  finished: boolean;
  /** Tool-call signatures (name + arguments) of each recorded turn, oldest first: seeds loop detection. */
  turnSignatures: string[][];
  /** How many times the loop detector has already warned this agent. */
  loopWarnings: number;
  /** Whether the agent was already nudged for answering off-protocol (it is nudged at most once). */
  nudged: boolean;
}

/** Identity of a tool call for loop detection: its name and its arguments. */
export function callSignature(call: { name: string; args: unknown }): string {
  return `${call.name} ${JSON.stringify(call.args)}`;
}

/**
 * Rebuilds an agent's conversation from the log: the task as the first user message, each
 * `agent.step.ended` as an assistant turn, each `tool.call.ended` as a tool result, each delivered
 * intervention as a user message. The same function serves a live run and `resume`, so a resumed
 * agent sends the model exactly what an uninterrupted one would have.
 */
export function agentHistory(agentId: string, events: readonly EntourageEvent[]): AgentHistory {
  const history: AgentHistory = {
    messages: [],
    lastStep: 0,
    requested: new Map(),
    started: new Set(),
    ended: new Set(),
    finished: false,
    turnSignatures: [],
    loopWarnings: 0,
    nudged: false,
  };
  const interventions = new Map<string, string>();
  for (const event of events) {
    if (event.type === "intervention.received")
      interventions.set(event.data.interventionId, event.data.message);
    if (event.agentId !== agentId) continue;
    switch (event.type) {
      case "agent.started":
        history.messages.push({ role: "user", content: event.data.task });
        break;
      case "agent.step.ended":
        history.lastStep = event.data.step;
        history.lastTurn = event.data;
        history.messages.push({ role: "assistant", text: event.data.text, toolCalls: event.data.toolCalls });
        history.turnSignatures.push(event.data.toolCalls.map(callSignature));
        break;
      case "tool.call.requested":
        history.requested.set(event.data.callId, event.data);
        break;
      case "tool.call.started":
        history.started.add(event.data.callId);
        break;
      case "tool.call.ended": {
        history.ended.add(event.data.callId);
        const result = {
          callId: event.data.callId,
          name: event.data.name,
          output: event.data.output,
          isError: event.data.isError,
        };
        const last = history.messages.at(-1);
        if (last?.role === "tool") last.results.push(result);
        else history.messages.push({ role: "tool", results: [result] });
        break;
      }
      case "intervention.delivered": {
        const message = interventions.get(event.data.interventionId);
        if (message !== undefined)
          history.messages.push({ role: "user", content: `[Message from the user] ${message}` });
        break;
      }
      case "loop.detected":
        if (event.data.action === "warned") {
          history.loopWarnings += 1;
          if (event.data.message) history.messages.push({ role: "user", content: event.data.message });
        }
        break;
      case "protocol.fallback":
        if (event.data.kind === "nudged") {
          history.nudged = true;
          if (event.data.message) history.messages.push({ role: "user", content: event.data.message });
        }
        break;
      case "agent.finished":
        history.finished = true;
        break;
      default:
        break;
    }
  }
  return history;
}
