import type { StreamStatus } from "../lib/sse.ts";
import type { RunState, RunStatus } from "../types.ts";

export function StatusPill({ status }: { status: RunStatus | string }) {
  return <span className={`pill status-${status}`}>{status}</span>;
}

/** The model, and when it is the scripted demo model, a label that says it is not an LLM. */
export function ModelBadge({ model }: { model: RunState["model"] }) {
  if (model.scripted) {
    return (
      <span
        className="badge scripted"
        title="Answers come from a script bundled with Entourage, not from a model"
      >
        Scripted demo model — not an LLM
      </span>
    );
  }
  if (!model.provider) return null;
  return (
    <span className="badge" title="Model">
      {model.provider} · {model.model}
    </span>
  );
}

export function SandboxBadge({ sandbox }: { sandbox: RunState["sandbox"] }) {
  if (!sandbox.backend) return null;
  if (!sandbox.isolated) {
    return (
      <span className="badge danger" title={sandbox.warning ?? "Commands run as you, on your machine"}>
        Sandbox: {sandbox.backend} — no isolation
      </span>
    );
  }
  return (
    <span className="badge ok" title="Where commands run">
      Sandbox: {sandbox.backend}
    </span>
  );
}

export function RiskBadge({ risk }: { risk: string }) {
  return <span className={`risk risk-${risk}`}>{risk}</span>;
}

export function ConnectionBadge({ status }: { status: StreamStatus }) {
  const text =
    status.state === "live"
      ? "Live"
      : status.state === "failed"
        ? `Stream failed: ${status.reason}`
        : status.state === "connecting"
          ? "Connecting…"
          : "Reconnecting…";
  return (
    <span className={`conn conn-${status.state}`} role="status" data-testid="connection">
      <span aria-hidden="true" className="dot" />
      {text}
    </span>
  );
}
