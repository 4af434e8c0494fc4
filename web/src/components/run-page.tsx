import { useEffect, useMemo, useState, useSyncExternalStore } from "react";
import { isTerminal } from "../../../src/core/state.ts";
import { ApiError, api } from "../lib/api.ts";
import { formatCost, formatDuration, formatTokens } from "../lib/format.ts";
import { linkClick, type RunTab } from "../lib/router.ts";
import { LiveRun } from "../model/live-run.ts";
import { useSession } from "../session.tsx";
import { AgentTree, PlanPanel } from "./agent-tree.tsx";
import { ApprovalsPanel } from "./approval-card.tsx";
import { ConnectionBadge, ModelBadge, SandboxBadge, StatusPill } from "./badges.tsx";
import { DiffTab } from "./diff-tab.tsx";
import { InterventionBox } from "./intervention-box.tsx";
import { LessonsTab, pendingLessons } from "./lessons-tab.tsx";
import { ReplayTab } from "./replay-tab.tsx";
import { Timeline } from "./timeline.tsx";

function useLiveRun(runId: string): LiveRun {
  const live = useMemo(() => new LiveRun(runId), [runId]);
  useEffect(() => {
    live.start();
    return () => live.stop();
  }, [live]);
  useSyncExternalStore(live.subscribe, live.getTick);
  return live;
}

const TAB_LABELS: Record<RunTab, string> = {
  timeline: "Timeline",
  diff: "Changes",
  replay: "Replay",
  lessons: "Lessons",
};

export function RunPage({ runId, tab }: { runId: string; tab: RunTab }) {
  const live = useLiveRun(runId);
  const session = useSession();
  const model = live.model;
  const s = model.state;
  const [selected, setSelected] = useState<string | undefined>();
  const steerable = live.detail?.live === true && session.signedIn === true;
  const [, setNow] = useState(0);
  useEffect(() => {
    if (isTerminal(s.status)) return;
    const t = setInterval(() => setNow((n) => n + 1), 1000);
    return () => clearInterval(t);
  }, [s.status]);

  // biome-ignore lint/correctness/useExhaustiveDependencies: the model mutates in place; its version says when it changed
  const items = useMemo(
    () => (selected === undefined ? model.items.slice() : model.items.filter((i) => i.agentId === selected)),
    [model.items, model.version, selected],
  );

  useEffect(() => {
    document.title = s.task ? `${s.status} · ${s.task.slice(0, 60)} — Entourage` : "Entourage";
  }, [s.task, s.status]);

  // biome-ignore lint/correctness/useExhaustiveDependencies: the model mutates in place; its version says when it changed
  const pending = useMemo(() => pendingLessons(model.events), [model.events, model.version]);
  const stopped = isTerminal(s.status) || live.detail?.interrupted === true;
  const duration = (s.finishedAt ?? (stopped ? s.updatedAt : Date.now())) - s.createdAt;
  const tabLink = (t: string) => `/runs/${runId}${t === "timeline" ? "" : `?tab=${t}`}`;

  return (
    <div className="page run-page" data-run-id={runId} data-status={s.status}>
      <div className="run-head">
        <div className="run-title">
          <h1>{s.task || runId}</h1>
          <div className="muted mono small">
            {runId}
            {s.repo && ` · ${s.repo}`}
          </div>
        </div>
        <div className="run-meta">
          <StatusPill status={s.status} />
          {live.detail?.interrupted && (
            <span
              className="tag warn"
              data-testid="interrupted"
              title={`The process that drove this run is gone; nothing is lost. Continue with: entourage resume ${runId}`}
            >
              interrupted · entourage resume {runId}
            </span>
          )}
          <ModelBadge model={s.model} />
          <SandboxBadge sandbox={s.sandbox} />
          {s.mode && s.createdAt > 0 && <span className="badge">mode {s.mode}</span>}
          {s.eval && (
            <span
              className="badge"
              data-testid="eval"
              title={`Started by entourage eval ${s.eval.id}; the verdict is in ENTOURAGE_HOME/evals/${s.eval.id}/results.json`}
            >
              eval task {s.eval.instanceId}
            </span>
          )}
          {live.detail?.driver && !isTerminal(s.status) && (
            <span
              className="badge"
              data-testid="driver"
              title={`Driven by pid ${live.detail.driver.holder.pid} on ${live.detail.driver.holder.host}`}
            >
              {live.detail.driver.holder.label} · {live.detail.driver.holder.host}
            </span>
          )}
          <ConnectionBadge status={live.status} />
        </div>
        <dl className="stats">
          <div>
            <dt>Duration</dt>
            <dd>{s.createdAt ? formatDuration(duration) : "–"}</dd>
          </div>
          {s.verification && (
            <div>
              <dt>Tests</dt>
              <dd data-testid="verification" title={s.verification.reason}>
                {s.verification.status === "passed"
                  ? "verified: pass"
                  : s.verification.status === "failed"
                    ? "verified: fail"
                    : "not verified"}
              </dd>
            </div>
          )}
          <div>
            <dt>Steps</dt>
            <dd>{s.steps}</dd>
          </div>
          <div>
            <dt>Tool calls</dt>
            <dd>{s.toolCalls}</dd>
          </div>
          <div>
            <dt>Tokens</dt>
            <dd>
              {formatTokens(s.usage.inputTokens)} in · {formatTokens(s.usage.outputTokens)} out
            </dd>
          </div>
          <div>
            <dt>Cost</dt>
            <dd>{formatCost(s.costUsd, s.costKnown)}</dd>
          </div>
          <div>
            <dt>Events</dt>
            <dd data-testid="event-count">{model.events.length}</dd>
          </div>
        </dl>
        <RunControls live={live} />
      </div>
      {live.error && (
        <p role="alert" className="error">
          {live.error}
        </p>
      )}
      {s.summary && isTerminal(s.status) && <p className={`summary status-text-${s.status}`}>{s.summary}</p>}
      <nav className="tabs" aria-label="Run views">
        {(["timeline", "diff", "replay", "lessons"] as const).map((t) => (
          <a key={t} href={tabLink(t)} onClick={linkClick} aria-current={tab === t ? "page" : undefined}>
            {TAB_LABELS[t]}
            {t === "lessons" && pending > 0 && (
              <span className="tab-count" title={`${pending} waiting for your decision`}>
                {pending}
                <span className="sr-only"> waiting</span>
              </span>
            )}
          </a>
        ))}
      </nav>
      {tab !== "lessons" && pending > 0 && (
        <p className="lessons-hint" data-testid="lessons-hint">
          {pending === 1 ? "1 lesson" : `${pending} lessons`} proposed from your corrections, waiting for you:{" "}
          <a href={tabLink("lessons")} onClick={linkClick}>
            review {pending === 1 ? "it" : "them"}
          </a>
        </p>
      )}
      {tab === "timeline" && (
        <div className="run-body">
          <aside className="side" aria-label="Agents">
            <AgentTree model={model} selected={selected} onSelect={setSelected} />
            <PlanPanel model={model} />
          </aside>
          <section className="main-col" aria-label="Timeline">
            <ApprovalsPanel live={live} steerable={steerable} />
            <Timeline model={model} items={items} follow />
            <InterventionBox live={live} steerable={steerable} selectedAgent={selected} />
          </section>
        </div>
      )}
      {tab === "diff" && <DiffTab live={live} />}
      {tab === "replay" && <ReplayTab live={live} />}
      {tab === "lessons" && <LessonsTab live={live} />}
    </div>
  );
}

/** Pause / resume / cancel, and continuing a run nobody drives. */
function RunControls({ live }: { live: LiveRun }) {
  const session = useSession();
  const s = live.model.state;
  const detail = live.detail;
  const [busy, setBusy] = useState<string>();
  const [error, setError] = useState<string>();
  const [confirmCancel, setConfirmCancel] = useState(false);
  useEffect(() => {
    if (!confirmCancel) return;
    const t = setTimeout(() => setConfirmCancel(false), 5000);
    return () => clearTimeout(t);
  }, [confirmCancel]);
  if (!detail || isTerminal(s.status)) return null;
  const act = async (name: string, fn: () => Promise<unknown>) => {
    setBusy(name);
    setError(undefined);
    try {
      await fn();
      live.refreshDetail();
    } catch (e) {
      setError(e instanceof ApiError ? e.message : String(e));
    } finally {
      setBusy(undefined);
    }
  };
  const signedIn = session.signedIn === true;
  return (
    <div className="controls">
      {detail.live && s.status !== "paused" && (
        <button
          type="button"
          disabled={!signedIn || busy !== undefined}
          onClick={() => act("pause", () => api.pause(live.runId))}
        >
          Pause
        </button>
      )}
      {(s.status === "paused" || detail.interrupted) && (
        <button
          type="button"
          className="primary"
          disabled={!signedIn || busy !== undefined}
          title={
            detail.interrupted ? "The process that drove it is gone: continue it in this server" : undefined
          }
          onClick={() => act("resume", () => api.resume(live.runId))}
        >
          {detail.live ? "Resume" : "Resume here"}
        </button>
      )}
      {detail.live &&
        (confirmCancel ? (
          <button
            type="button"
            className="danger"
            disabled={!signedIn || busy !== undefined}
            onClick={() => act("cancel", () => api.cancel(live.runId))}
          >
            Confirm: cancel the run
          </button>
        ) : (
          <button
            type="button"
            disabled={!signedIn || busy !== undefined}
            onClick={() => setConfirmCancel(true)}
          >
            Cancel run
          </button>
        ))}
      {!detail.live && s.status !== "paused" && !detail.interrupted && (
        <span className="muted small">
          {s.status === "queued"
            ? "Queued: waiting for a worker to take it."
            : "No process drives it right now: watch only."}
        </span>
      )}
      {error && (
        <span role="alert" className="error small">
          {error}
        </span>
      )}
    </div>
  );
}
