import { type KeyboardEvent, useEffect, useRef, useState } from "react";
import {
  alwaysAllowRule,
  describeRule,
  mainArgument,
  PLAN_APPROVAL_TOOL,
} from "../../../src/core/approval-rules.ts";
import { ApiError, api } from "../lib/api.ts";
import type { LiveRun } from "../model/live-run.ts";
import type { ApprovalInfo } from "../model/run-model.ts";
import { RiskBadge } from "./badges.tsx";

/** The approvals waiting for an answer, pinned above the timeline (the timeline shows them inline too). */
export function ApprovalsPanel({ live, steerable }: { live: LiveRun; steerable: boolean }) {
  const pending = live.model.pendingApprovals();
  const loaded = live.detail !== undefined;
  return (
    <div className="approvals" aria-live="polite">
      {pending.map((a, i) => (
        <ApprovalCard
          key={a.approvalId}
          live={live}
          approval={a}
          steerable={steerable}
          autoFocus={i === 0}
          why={
            steerable
              ? undefined
              : !loaded
                ? "Loading…"
                : live.detail?.live
                  ? "Sign in to answer."
                  : "This run is not driven by this server, so it cannot be answered here."
          }
        />
      ))}
    </div>
  );
}

type Mode = "idle" | "deny" | "edit" | "always";

/**
 * One approval prompt: approve, deny with a reason, edit the arguments (or the plan), or always allow
 * with the rule shown (and editable) before it is saved. Keys while the card has focus: A approve,
 * D deny, E edit, L always allow, Escape back.
 */
export function ApprovalCard({
  live,
  approval,
  steerable,
  autoFocus,
  why,
}: {
  live: LiveRun;
  approval: ApprovalInfo;
  steerable: boolean;
  autoFocus: boolean;
  why?: string;
}) {
  const isPlan = approval.tool === PLAN_APPROVAL_TOOL;
  const [mode, setMode] = useState<Mode>("idle");
  const [reason, setReason] = useState("");
  const [edited, setEdited] = useState(() => JSON.stringify(approval.args, null, 2));
  const [pattern, setPattern] = useState(() => mainArgument(approval.args));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const [sent, setSent] = useState<string>();
  const approveRef = useRef<HTMLButtonElement>(null);
  const fieldRef = useRef<HTMLTextAreaElement & HTMLInputElement>(null);
  const titleId = `approval-${approval.approvalId}`;

  // Focus the prompt once it can be answered, unless the person is typing somewhere else.
  const focused = useRef(false);
  useEffect(() => {
    if (!autoFocus || !steerable || focused.current) return;
    focused.current = true;
    const active = document.activeElement;
    const busyElsewhere =
      active instanceof HTMLInputElement ||
      active instanceof HTMLTextAreaElement ||
      active instanceof HTMLSelectElement;
    if (!busyElsewhere) approveRef.current?.focus();
  }, [autoFocus, steerable]);

  useEffect(() => {
    if (mode !== "idle") fieldRef.current?.focus();
  }, [mode]);

  // Undefined for the plan checkpoint, which offers no "always allow".
  const rule = alwaysAllowRule(approval, pattern);

  const send = async (label: string, body: Parameters<typeof api.answer>[2]) => {
    setBusy(true);
    setError(undefined);
    try {
      await api.answer(live.runId, approval.approvalId, body);
      setSent(label);
    } catch (e) {
      setError(e instanceof ApiError ? e.message : String(e));
      setBusy(false);
    }
  };

  const approve = () => send("Approved", { decision: "approve" });
  const submit = () => {
    if (mode === "deny") return send("Denied", { decision: "deny", reason: reason.trim() || undefined });
    if (mode === "edit") {
      let args: unknown;
      try {
        args = JSON.parse(edited);
      } catch (e) {
        setError(`The arguments are not valid JSON: ${(e as Error).message}`);
        return;
      }
      return send("Edited and approved", { decision: "edit", editedArgs: args });
    }
    if (mode === "always" && rule)
      return send(`Always allowed: ${describeRule(rule)}`, { decision: "approve", rule });
  };

  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key === "Escape" && mode !== "idle") {
      e.preventDefault();
      setMode("idle");
      setError(undefined);
      approveRef.current?.focus();
      return;
    }
    const target = e.target as HTMLElement;
    if (target.tagName === "TEXTAREA" || target.tagName === "INPUT") {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        void submit();
      }
      return;
    }
    if (!steerable || busy || e.ctrlKey || e.metaKey || e.altKey) return;
    const key = e.key.toLowerCase();
    if (key === "a") {
      e.preventDefault();
      void approve();
    } else if (key === "d") {
      e.preventDefault();
      setMode("deny");
    } else if (key === "e") {
      e.preventDefault();
      setMode("edit");
    } else if (key === "l" && rule) {
      e.preventDefault();
      setMode("always");
    }
  };

  const command = (approval.args as { command?: unknown } | undefined)?.command;
  const disabled = !steerable || busy || sent !== undefined;
  return (
    <section
      className={`card approval risk-border-${approval.risk}`}
      aria-labelledby={titleId}
      data-testid="approval"
      data-approval-id={approval.approvalId}
      onKeyDown={onKeyDown}
    >
      <h2 id={titleId} className="approval-title">
        {isPlan ? "Approve the plan?" : `Approve ${approval.tool}?`} <RiskBadge risk={approval.risk} />
        <span className="muted small"> asked by {live.model.agentName(approval.agentId)}</span>
      </h2>
      <p className="small">{approval.reason}</p>
      {typeof command === "string" ? (
        <pre className="command">
          <span aria-hidden="true">$ </span>
          {command}
        </pre>
      ) : (
        <pre className="args">{JSON.stringify(approval.args, null, 2)}</pre>
      )}
      {sent ? (
        <p role="status" className="ok small">
          {sent} — waiting for the run to continue…
        </p>
      ) : (
        <div className="row wrap">
          <button ref={approveRef} type="button" className="primary" disabled={disabled} onClick={approve}>
            <u>A</u>pprove
          </button>
          <button
            type="button"
            disabled={disabled}
            aria-expanded={mode === "deny"}
            onClick={() => setMode("deny")}
          >
            <u>D</u>eny…
          </button>
          <button
            type="button"
            disabled={disabled}
            aria-expanded={mode === "edit"}
            onClick={() => setMode("edit")}
          >
            <u>E</u>dit {isPlan ? "plan" : "arguments"}…
          </button>
          {rule && (
            <button
              type="button"
              disabled={disabled}
              aria-expanded={mode === "always"}
              onClick={() => setMode("always")}
            >
              A<u>l</u>ways allow…
            </button>
          )}
          {why && <span className="muted small">{why}</span>}
        </div>
      )}
      {!sent && mode === "deny" && (
        <div className="subform">
          <label htmlFor={`${titleId}-reason`}>Reason (the model reads it)</label>
          <textarea
            id={`${titleId}-reason`}
            ref={fieldRef}
            rows={2}
            value={reason}
            onChange={(e) => setReason(e.target.value)}
          />
          <div className="row">
            <button type="button" className="danger" disabled={disabled} onClick={submit}>
              Deny
            </button>
            <span className="muted small">Ctrl+Enter sends · Esc goes back</span>
          </div>
        </div>
      )}
      {!sent && mode === "edit" && (
        <div className="subform">
          <label htmlFor={`${titleId}-args`}>{isPlan ? "The plan (JSON)" : "Arguments (JSON)"}</label>
          <textarea
            id={`${titleId}-args`}
            ref={fieldRef}
            className="mono"
            rows={Math.min(16, edited.split("\n").length + 1)}
            value={edited}
            onChange={(e) => setEdited(e.target.value)}
          />
          <div className="row">
            <button type="button" className="primary" disabled={disabled} onClick={submit}>
              {isPlan ? "Approve the edited plan" : "Run with these arguments"}
            </button>
            <span className="muted small">Ctrl+Enter sends · Esc goes back</span>
          </div>
        </div>
      )}
      {!sent && mode === "always" && rule && (
        <div className="subform">
          <label htmlFor={`${titleId}-pattern`}>Pattern (* matches anything)</label>
          <input
            id={`${titleId}-pattern`}
            ref={fieldRef}
            className="mono"
            value={pattern}
            onChange={(e) => setPattern(e.target.value)}
          />
          <p className="small">
            Rule to save in the project's <code>.entourage/config.json</code>, binding every agent from now
            on: <code data-testid="rule-preview">{describeRule(rule)}</code>
          </p>
          <div className="row">
            <button type="button" className="primary" disabled={disabled || pattern === ""} onClick={submit}>
              Save rule and approve
            </button>
            <span className="muted small">Esc goes back</span>
          </div>
        </div>
      )}
      {error && (
        <p role="alert" className="error small">
          {error}
        </p>
      )}
    </section>
  );
}
