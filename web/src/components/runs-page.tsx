import { type FormEvent, useCallback, useEffect, useRef, useState } from "react";
import { ApiError, api } from "../lib/api.ts";
import { formatCost, formatDuration, formatStarted, formatTokens } from "../lib/format.ts";
import { linkClick, navigate } from "../lib/router.ts";
import { followStream, type StreamStatus } from "../lib/sse.ts";
import { useSession } from "../session.tsx";
import {
  type CreateRun,
  type EntourageEvent,
  RUN_STATUSES,
  type RunStatus,
  type RunSummary,
} from "../types.ts";
import { ConnectionBadge, StatusPill } from "./badges.tsx";

type Choice<K extends "mode" | "approval" | "sandbox"> = Record<NonNullable<CreateRun[K]>, string>;

/** A label for each name of the engine's vocabulary, in the order the form offers them. */
const MODE_LABELS = {
  pipeline: "pipeline (Analyzer → plan → Implementer ⇄ Tester → Refactorer)",
  dynamic: "dynamic (a planner delegates)",
  single: "single agent",
} satisfies Choice<"mode">;
const APPROVAL_LABELS = {
  "ask-risky": "ask-risky (commands, network, destructive)",
  "ask-all": "ask-all",
  plan: "plan (read-only until the plan is approved)",
  auto: "auto (never ask)",
} satisfies Choice<"approval">;
const SANDBOX_LABELS = {
  bwrap: "bwrap (namespaces)",
  docker: "docker",
  gvisor: "gVisor (docker + runsc)",
  subprocess: "subprocess — no isolation",
} satisfies Choice<"sandbox">;

function options(labels: Record<string, string>) {
  return Object.entries(labels).map(([value, label]) => (
    <option key={value} value={value}>
      {label}
    </option>
  ));
}

const ACTIVE = new Set<string>(["queued", "running", "waiting", "paused"]);

/** Every run, newest first, kept current from the all-runs event stream. */
export function RunsPage({ status }: { status?: string }) {
  const filter = RUN_STATUSES.includes(status as RunStatus) ? (status as RunStatus) : undefined;
  const [runs, setRuns] = useState<RunSummary[]>();
  const [error, setError] = useState<string>();
  const [conn, setConn] = useState<StreamStatus>({ state: "connecting", attempt: 1 });
  const [activeAgents, setActiveAgents] = useState<Record<string, string>>({});
  const [showForm, setShowForm] = useState(false);
  const [query, setQuery] = useState("");
  const [repoFilter, setRepoFilter] = useState("");
  const [, setNow] = useState(Date.now());
  const timer = useRef<ReturnType<typeof setTimeout>>(undefined);

  const load = useCallback(async () => {
    try {
      const { runs } = await api.listRuns(filter);
      setRuns(runs);
      setError(undefined);
      // The summary has no active agent: ask the runs still going (few) for theirs.
      const active = runs.filter((r) => ACTIVE.has(r.status)).slice(0, 20);
      const details = await Promise.all(active.map((r) => api.getRun(r.runId).catch(() => undefined)));
      const names: Record<string, string> = {};
      for (const d of details) {
        const agent = d?.run.agents.find((a) => a.agentId === d.run.activeAgentId);
        if (d && agent) names[d.run.runId] = agent.name;
      }
      setActiveAgents(names);
    } catch (e) {
      setError(e instanceof ApiError ? e.message : `Could not load runs: ${String(e)}`);
    }
  }, [filter]);

  // Redraw at most every 250 ms however many events arrive.
  const scheduleLoad = useCallback(() => {
    if (timer.current) return;
    timer.current = setTimeout(() => {
      timer.current = undefined;
      void load();
    }, 250);
  }, [load]);

  useEffect(() => {
    void load();
    const stop = followStream<EntourageEvent>({
      url: "/events/stream",
      parse: (m) => JSON.parse(m.data) as EntourageEvent,
      onMessages: (events) => {
        setActiveAgents((prev) => {
          let next = prev;
          for (const e of events) {
            if (e.type === "agent.started") next = { ...next, [e.runId]: e.data.name };
            if (e.type === "run.finished") {
              next = { ...next };
              delete next[e.runId];
            }
          }
          return next;
        });
        scheduleLoad();
      },
      // The all-runs stream is live only: after a reconnect, read the list again.
      onConnect: (reconnect) => {
        if (reconnect) scheduleLoad();
      },
      onStatus: setConn,
    });
    const tick = setInterval(() => setNow(Date.now()), 1000);
    return () => {
      stop();
      clearInterval(tick);
      clearTimeout(timer.current);
      timer.current = undefined;
    };
  }, [load, scheduleLoad]);

  const repos = [...new Set((runs ?? []).map((r) => r.repo))].sort();
  const words = query.trim().toLowerCase().split(/\s+/).filter(Boolean);
  const shown = (runs ?? []).filter(
    (r) =>
      (repoFilter === "" || r.repo === repoFilter) &&
      words.every((w) => `${r.task} ${r.runId} ${r.repo}`.toLowerCase().includes(w)),
  );

  return (
    <div className="page runs-page">
      <div className="page-head">
        <h1>Runs</h1>
        <ConnectionBadge status={conn} />
        <div className="spacer" />
        <input
          type="search"
          className="run-search"
          placeholder="Search task, run id, repository"
          aria-label="Search runs"
          value={query}
          onChange={(e) => setQuery(e.target.value)}
        />
        <label htmlFor="repo-filter">Repo</label>
        <select
          id="repo-filter"
          aria-label="Filter runs by repo"
          value={repoFilter}
          onChange={(e) => setRepoFilter(e.target.value)}
        >
          <option value="">all</option>
          {repos.map((repo) => (
            <option key={repo} value={repo}>
              {repo.split("/").slice(-2).join("/")}
            </option>
          ))}
        </select>
        <label htmlFor="status-filter">Status</label>
        <select
          id="status-filter"
          value={filter ?? ""}
          onChange={(e) => navigate(e.target.value ? `/?status=${e.target.value}` : "/", { replace: true })}
        >
          <option value="">all</option>
          {RUN_STATUSES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
        <button
          type="button"
          className="primary"
          aria-expanded={showForm}
          onClick={() => setShowForm((v) => !v)}
        >
          New run
        </button>
      </div>
      {showForm && <NewRunForm onCancel={() => setShowForm(false)} />}
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {runs && runs.length === 0 && (
        <p className="empty">
          {filter
            ? `No ${filter} runs.`
            : "No runs yet. Start one with New run, or with entourage run in a terminal."}
        </p>
      )}
      {runs && runs.length > 0 && shown.length === 0 && (
        <p className="empty">No run matches {query.trim() ? `“${query.trim()}”` : "these filters"}.</p>
      )}
      {shown.length > 0 && (
        <div className="table-scroll">
          <table className="runs">
            <caption className="sr-only">Runs, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Status</th>
                <th scope="col">Task</th>
                <th scope="col">Repository</th>
                <th scope="col" className="wide-only">
                  Active agent
                </th>
                <th scope="col" className="num">
                  Started
                </th>
                <th scope="col" className="num">
                  Duration
                </th>
                <th scope="col" className="num wide-only">
                  Tokens
                </th>
                <th scope="col" className="num">
                  Cost
                </th>
                <th scope="col" className="num wide-only">
                  Events
                </th>
              </tr>
            </thead>
            <tbody>
              {shown.map((r) => (
                <tr key={r.runId} data-run-id={r.runId} data-status={r.status}>
                  <td>
                    <StatusPill status={r.status} />
                    {r.live && <span className="tag">live</span>}
                    {r.interrupted && (
                      <span
                        className="tag warn"
                        title={`The process that drove it is gone; nothing is lost. Continue with: entourage resume ${r.runId}`}
                      >
                        interrupted
                      </span>
                    )}
                    {r.verification === "not_verified" && (
                      <span className="tag warn" title="No test could be run on the change">
                        not verified
                      </span>
                    )}
                  </td>
                  <td className="task">
                    <a href={`/runs/${r.runId}`} onClick={linkClick}>
                      {r.task || r.runId}
                    </a>
                    <div className="muted mono small">{r.runId}</div>
                  </td>
                  <td className="mono small repo" title={r.repo}>
                    {r.repo.split("/").slice(-2).join("/")}
                  </td>
                  <td className="wide-only">{ACTIVE.has(r.status) ? (activeAgents[r.runId] ?? "–") : "–"}</td>
                  <td className="num" data-label="started" title={new Date(r.createdAt).toISOString()}>
                    {formatStarted(r.createdAt)}
                  </td>
                  <td className="num" data-label="took">
                    {formatDuration(
                      (ACTIVE.has(r.status) && r.live ? Date.now() : r.updatedAt) - r.createdAt,
                    )}
                  </td>
                  <td className="num wide-only">{formatTokens(r.inputTokens + r.outputTokens)}</td>
                  <td className="num" data-label={r.costKnown ? "cost" : ""}>
                    {formatCost(r.costUsd, r.costKnown)}
                  </td>
                  <td className="num wide-only">{r.events}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

function NewRunForm({ onCancel }: { onCancel: () => void }) {
  const session = useSession();
  const [form, setForm] = useState<CreateRun>({
    task: "",
    repo: "",
    mode: "pipeline",
    approval: "ask-risky",
  });
  const [error, setError] = useState<string>();
  /** The server refused the repository's untrusted settings: offer to start without them. */
  const [untrusted, setUntrusted] = useState(false);
  const [busy, setBusy] = useState(false);
  const first = useRef<HTMLTextAreaElement>(null);
  useEffect(() => first.current?.focus(), []);
  const set = <K extends keyof CreateRun>(key: K, value: CreateRun[K]) =>
    setForm((f) => ({ ...f, [key]: value }));
  const start = async (body: CreateRun) => {
    setBusy(true);
    setError(undefined);
    setUntrusted(false);
    try {
      const { runId } = await api.createRun(body);
      navigate(`/runs/${runId}`);
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
      setUntrusted(err instanceof ApiError && err.code === "untrusted_repository");
      setBusy(false);
    }
  };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void start(form);
  };
  return (
    <form className="card new-run" onSubmit={submit} aria-labelledby="new-run-title">
      <h2 id="new-run-title">Start a run</h2>
      <label htmlFor="nr-task">Task</label>
      <textarea
        id="nr-task"
        ref={first}
        required
        rows={3}
        value={form.task}
        placeholder="Fix the failing test in src/date.ts"
        onChange={(e) => set("task", e.target.value)}
      />
      <label htmlFor="nr-repo">Repository (a git work tree on the server)</label>
      <input
        id="nr-repo"
        required
        className="mono"
        value={form.repo}
        placeholder="/home/me/project"
        onChange={(e) => set("repo", e.target.value)}
      />
      <div className="row wrap">
        <span className="field">
          <label htmlFor="nr-mode">Mode</label>
          <select
            id="nr-mode"
            value={form.mode}
            onChange={(e) => set("mode", e.target.value as CreateRun["mode"])}
          >
            {options(MODE_LABELS)}
          </select>
        </span>
        <span className="field">
          <label htmlFor="nr-approval">Approval</label>
          <select
            id="nr-approval"
            value={form.approval}
            onChange={(e) => set("approval", e.target.value as CreateRun["approval"])}
          >
            {options(APPROVAL_LABELS)}
          </select>
        </span>
        <span className="field">
          <label htmlFor="nr-sandbox">Sandbox</label>
          <select
            id="nr-sandbox"
            value={form.sandbox ?? ""}
            onChange={(e) => set("sandbox", (e.target.value || undefined) as CreateRun["sandbox"])}
          >
            <option value="">server default</option>
            {options(SANDBOX_LABELS)}
          </select>
        </span>
      </div>
      {form.sandbox === "subprocess" && (
        <p className="warn">
          subprocess runs every command as the server's user on this machine, with no isolation.
        </p>
      )}
      {session.signedIn === false && <p className="warn">Sign in first: starting a run needs a session.</p>}
      {error && (
        <p role="alert" className={untrusted ? "error wrap mono" : "error"}>
          {error}
        </p>
      )}
      {untrusted && (
        <button
          type="button"
          disabled={busy}
          onClick={() => void start({ ...form, withoutRepoSettings: true })}
        >
          Start without the repository's settings
        </button>
      )}
      <div className="row">
        <button type="submit" className="primary" disabled={busy}>
          {busy ? "Starting…" : "Start run"}
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
