import { type FormEvent, useEffect, useState } from "react";
import { ApiError, api } from "../lib/api.ts";
import type { LiveRun } from "../model/live-run.ts";

/**
 * A message to the run or to one agent: delivered at the agent's next step ("send at next step"), at
 * once, aborting the model call in flight ("interrupt now"), or as a redirect: the agent is stopped and
 * its phase starts over with a fresh agent that reads the message first. Ctrl+Enter sends at the next step.
 */
const SENT = {
  "next-step": "Sent: delivered at the agent's next step.",
  interrupt: "Sent: the agent was interrupted and reads it now.",
  redirect: "Sent: the agent was stopped; its phase starts over with your message.",
} as const;

export function InterventionBox({
  live,
  steerable,
  selectedAgent,
}: {
  live: LiveRun;
  steerable: boolean;
  selectedAgent?: string;
}) {
  const s = live.model.state;
  const running = s.agents.filter((a) => a.status === "running");
  const [message, setMessage] = useState("");
  const [target, setTarget] = useState<string>("");
  const [busy, setBusy] = useState(false);
  const [status, setStatus] = useState<string>();
  const [error, setError] = useState<string>();

  // Follow the agent picked in the tree, while it runs.
  useEffect(() => {
    if (selectedAgent && running.some((a) => a.agentId === selectedAgent)) setTarget(selectedAgent);
  }, [selectedAgent, running]);
  const validTarget = target === "" || running.some((a) => a.agentId === target) ? target : "";

  const send = async (how: "next-step" | "interrupt" | "redirect") => {
    if (message.trim() === "") return;
    setBusy(true);
    setError(undefined);
    setStatus(undefined);
    try {
      await api.intervene(live.runId, {
        message: message.trim(),
        targetAgentId: validTarget || undefined,
        interrupt: how !== "next-step",
        redirect: how === "redirect" ? {} : undefined,
      });
      setMessage("");
      setStatus(SENT[how]);
    } catch (e) {
      setError(e instanceof ApiError ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    void send("next-step");
  };
  const disabled = !steerable || busy;
  return (
    <form className="intervention" onSubmit={onSubmit} aria-label="Message to the agents">
      <div className="row">
        <label htmlFor="intervention-text">Message</label>
        <span className="spacer" />
        <label htmlFor="intervention-target" className="small">
          To
        </label>
        <select id="intervention-target" value={validTarget} onChange={(e) => setTarget(e.target.value)}>
          <option value="">the run (next agent to step)</option>
          {running.map((a) => (
            <option key={a.agentId} value={a.agentId}>
              {a.name}
            </option>
          ))}
        </select>
      </div>
      <textarea
        id="intervention-text"
        rows={2}
        value={message}
        placeholder={
          steerable
            ? "Steer the agents: a hint, a correction, a new constraint…"
            : "Steering needs a live run and a session."
        }
        onChange={(e) => setMessage(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
            e.preventDefault();
            void send("next-step");
          }
        }}
      />
      <div className="row">
        <button type="submit" className="primary" disabled={disabled || message.trim() === ""}>
          Send at next step
        </button>
        <button
          type="button"
          className="danger"
          disabled={disabled || message.trim() === ""}
          onClick={() => send("interrupt")}
        >
          Interrupt now
        </button>
        <button
          type="button"
          className="danger"
          disabled={disabled || message.trim() === ""}
          title="Stop the agent and start its phase over with a fresh agent, which reads this message first"
          onClick={() => send("redirect")}
        >
          Redirect
        </button>
        <span className="muted small">Ctrl+Enter sends at the next step</span>
        <span role="status" className="ok small">
          {status}
        </span>
      </div>
      {error && (
        <p role="alert" className="error small">
          {error}
        </p>
      )}
    </form>
  );
}
