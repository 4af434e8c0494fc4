import { formatCost, formatTokens, plural } from "../lib/format.ts";
import type { RunModel } from "../model/run-model.ts";
import type { RunState } from "../types.ts";

type AgentState = RunState["agents"][number];

/**
 * The run's agents as a tree: the run (orchestrator/planner) at the root, each agent under the agent that
 * delegated to it. Selecting a node narrows the timeline to that agent.
 */
export function AgentTree({
  model,
  selected,
  onSelect,
}: {
  model: RunModel;
  selected?: string;
  onSelect?: (agentId: string | undefined) => void;
}) {
  const s = model.state;
  const children = new Map<string | undefined, AgentState[]>();
  const known = new Set(s.agents.map((a) => a.agentId));
  for (const a of s.agents) {
    const parent = a.parentAgentId && known.has(a.parentAgentId) ? a.parentAgentId : undefined;
    children.set(parent, [...(children.get(parent) ?? []), a]);
  }
  const render = (parent: string | undefined, depth: number) => {
    const list = children.get(parent);
    if (!list) return null;
    return (
      <ul className={depth === 0 ? "tree" : "tree nested"}>
        {list.map((a) => (
          <li key={a.agentId}>
            <AgentNode
              agent={a}
              active={s.activeAgentId === a.agentId}
              costKnown={s.costKnown}
              selected={selected === a.agentId}
              onSelect={onSelect}
            />
            {render(a.agentId, depth + 1)}
          </li>
        ))}
      </ul>
    );
  };
  return (
    <div className="agent-tree" data-testid="agent-tree">
      <h2 className="side-title">Agents</h2>
      <button
        type="button"
        className={`node root ${selected === undefined ? "selected" : ""}`}
        aria-pressed={selected === undefined}
        onClick={() => onSelect?.(undefined)}
      >
        <span className="node-name">Run · {s.mode}</span>
        <span className="node-stats">
          {plural(s.steps, "step")} · {formatTokens(s.usage.inputTokens + s.usage.outputTokens)} tok ·{" "}
          {formatCost(s.costUsd, s.costKnown)}
        </span>
      </button>
      {render(undefined, 0)}
      {s.agents.length === 0 && <p className="muted small">No agent has started yet.</p>}
    </div>
  );
}

function AgentNode({
  agent,
  active,
  costKnown,
  selected,
  onSelect,
}: {
  agent: AgentState;
  active: boolean;
  costKnown: boolean;
  selected: boolean;
  onSelect?: (agentId: string | undefined) => void;
}) {
  const status =
    agent.status === "running" ? (active ? "running" : "waiting") : (agent.report?.status ?? "finished");
  return (
    <button
      type="button"
      className={`node ${selected ? "selected" : ""}`}
      aria-pressed={selected}
      data-agent={agent.name}
      onClick={() => onSelect?.(selected ? undefined : agent.agentId)}
    >
      <span className="node-name">
        <span className={`agent-dot a-${status}`} aria-hidden="true" />
        {agent.name}
        <span className="sr-only">, {status}</span>
        <span className={`node-status a-text-${status}`} aria-hidden="true">
          {status}
        </span>
      </span>
      <span className="node-stats">
        {plural(agent.steps, "step")} · {formatTokens(agent.usage.inputTokens)} in /{" "}
        {formatTokens(agent.usage.outputTokens)} out · {formatCost(agent.costUsd, costKnown)}
      </span>
    </button>
  );
}

/** The plan (task ledger) and, in dynamic mode, the progress ledger. */
export function PlanPanel({ model }: { model: RunModel }) {
  const { plan, ledger } = model;
  if (!plan && !ledger) return null;
  return (
    <div className="plan-panel">
      {plan && (
        <>
          <h2 className="side-title">
            Plan <span className={`pill plan-${plan.status}`}>{plan.status}</span>
          </h2>
          <ol className="plan-steps">
            {plan.plan.steps.map((step) => (
              <li key={step.id} className={`step-${step.status}`}>
                <span className="step-status">{step.status.replace("_", " ")}</span> {step.description}{" "}
                <span className="muted">— {step.owner}</span>
              </li>
            ))}
          </ol>
          {plan.plan.facts.length > 0 && (
            <details>
              <summary>Facts ({plan.plan.facts.length})</summary>
              <ul className="facts">
                {plan.plan.facts.map((f) => (
                  <li key={f}>{f}</li>
                ))}
              </ul>
            </details>
          )}
        </>
      )}
      {ledger && (
        <>
          <h2 className="side-title">Progress ledger</h2>
          <p className="small">
            {ledger.done
              ? "done"
              : ledger.stuck
                ? "stuck"
                : ledger.progressing
                  ? "progressing"
                  : "not progressing"}
            {ledger.next && ` · next: ${ledger.next}`}
          </p>
          <p className="small muted">{ledger.note}</p>
        </>
      )}
    </div>
  );
}
