import { Fragment, useEffect, useMemo, useState } from "react";
import { ApiError, api } from "../lib/api.ts";
import { type DiffFile, type DiffLine, languageOf, parseUnifiedDiff, splitRows } from "../lib/diff.ts";
import { highlightLine } from "../lib/highlight.ts";
import { navigate } from "../lib/router.ts";
import type { LiveRun } from "../model/live-run.ts";
import { useSession } from "../session.tsx";

type Selection = { kind: "final" } | { kind: "checkpoint"; seq: number };

/** The run's change — final, and per checkpoint — with rewind-to and fork-from on every checkpoint. */
export function DiffTab({ live }: { live: LiveRun }) {
  const checkpoints = live.model.state.checkpoints;
  const [selection, setSelection] = useState<Selection>({ kind: "final" });
  const [diff, setDiff] = useState<{ text: string; title: string }>();
  const [error, setError] = useState<string>();
  const [layout, setLayout] = useState<"unified" | "split">(() =>
    localStorage.getItem("entourage.diffLayout") === "split" ? "split" : "unified",
  );
  const lastCheckpoint = checkpoints.at(-1)?.seq;
  // biome-ignore lint/correctness/useExhaustiveDependencies: a new checkpoint (lastCheckpoint) changes the final diff
  useEffect(() => {
    let cancelled = false;
    setError(undefined);
    const load =
      selection.kind === "final"
        ? api
            .diff(live.runId)
            .then((d) => ({ text: d.diff, title: "Final change (baseline → latest checkpoint)" }))
        : api
            .checkpointDiff(live.runId, selection.seq)
            .then((d) => ({ text: d.diff, title: `Checkpoint #${d.seq}: ${d.label}` }));
    load.then(
      (d) => !cancelled && setDiff(d),
      (e) => !cancelled && setError(e instanceof ApiError ? e.message : String(e)),
    );
    return () => {
      cancelled = true;
    };
  }, [live.runId, selection, lastCheckpoint]);

  const chooseLayout = (l: "unified" | "split") => {
    setLayout(l);
    localStorage.setItem("entourage.diffLayout", l);
  };
  return (
    <div className="diff-tab">
      <aside className="side" aria-label="Checkpoints">
        <h2 className="side-title">Changes</h2>
        <ul className="checkpoints">
          <li>
            <button
              type="button"
              className={`node ${selection.kind === "final" ? "selected" : ""}`}
              aria-pressed={selection.kind === "final"}
              onClick={() => setSelection({ kind: "final" })}
            >
              <span className="node-name">Final change</span>
              <span className="node-stats">baseline → latest</span>
            </button>
          </li>
          {checkpoints.map((c) => (
            <li key={c.seq} data-checkpoint={c.seq}>
              <button
                type="button"
                className={`node ${selection.kind === "checkpoint" && selection.seq === c.seq ? "selected" : ""}`}
                aria-pressed={selection.kind === "checkpoint" && selection.seq === c.seq}
                onClick={() => setSelection({ kind: "checkpoint", seq: c.seq })}
              >
                <span className="node-name">
                  #{c.seq} {c.label}
                </span>
                <span className="node-stats mono">{c.filesChanged.join(", ") || "no files"}</span>
              </button>
              <TimeTravel live={live} seq={c.seq} compact />
            </li>
          ))}
          {checkpoints.length === 0 && <li className="muted small">No checkpoint yet.</li>}
        </ul>
      </aside>
      <section className="main-col" aria-label="Diff">
        <div className="row">
          <h2 className="diff-title">{diff?.title ?? "…"}</h2>
          <span className="spacer" />
          <fieldset className="segmented">
            <legend className="sr-only">Layout</legend>
            <button type="button" aria-pressed={layout === "unified"} onClick={() => chooseLayout("unified")}>
              Unified
            </button>
            <button type="button" aria-pressed={layout === "split"} onClick={() => chooseLayout("split")}>
              Side by side
            </button>
          </fieldset>
        </div>
        {error && (
          <p role="alert" className="error">
            {error}
          </p>
        )}
        {diff && <DiffView text={diff.text} layout={layout} />}
      </section>
    </div>
  );
}

/**
 * Rewind (the workspace and the agents' context go back to event `seq`; the run is left paused) and fork
 * (a new run from `seq`, with optional guidance for the agent that continues).
 */
export function TimeTravel({ live, seq, compact }: { live: LiveRun; seq: number; compact?: boolean }) {
  const session = useSession();
  const [mode, setMode] = useState<"idle" | "fork">("idle");
  const [guidance, setGuidance] = useState("");
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<string>();
  const [error, setError] = useState<string>();
  const driven = live.detail?.live === true;
  const signedIn = session.signedIn === true;
  const rewind = async () => {
    setBusy(true);
    setError(undefined);
    try {
      const r = await api.rewind(live.runId, seq);
      setMessage(
        `Rewound to event ${seq} (${r.label}). The run is paused: Resume here continues from there.`,
      );
      live.refreshDetail();
    } catch (e) {
      setError(e instanceof ApiError ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };
  const fork = async () => {
    setBusy(true);
    setError(undefined);
    try {
      const r = await api.fork(live.runId, seq, guidance.trim() || undefined);
      navigate(`/runs/${r.runId}`);
    } catch (e) {
      setError(e instanceof ApiError ? e.message : String(e));
      setBusy(false);
    }
  };
  return (
    <div className={`time-travel ${compact ? "compact" : ""}`}>
      <div className="row">
        <button
          type="button"
          disabled={!signedIn || busy || driven}
          title={
            driven ? "This server drives the run: cancel it (or let it finish) before rewinding" : undefined
          }
          onClick={rewind}
          data-testid="rewind"
        >
          Rewind to #{seq}
        </button>
        <button
          type="button"
          disabled={!signedIn || busy}
          aria-expanded={mode === "fork"}
          onClick={() => setMode(mode === "fork" ? "idle" : "fork")}
          data-testid="fork"
        >
          Fork from #{seq}…
        </button>
      </div>
      {mode === "fork" && (
        <div className="subform">
          <label htmlFor={`fork-guidance-${seq}`}>Guidance for the agent that continues (optional)</label>
          <textarea
            id={`fork-guidance-${seq}`}
            rows={2}
            value={guidance}
            onChange={(e) => setGuidance(e.target.value)}
          />
          <button type="button" className="primary" disabled={busy} onClick={fork}>
            Start the fork
          </button>
        </div>
      )}
      {message && (
        <p role="status" className="ok small">
          {message}
        </p>
      )}
      {error && (
        <p role="alert" className="error small">
          {error}
        </p>
      )}
    </div>
  );
}

const MAX_LINES_PER_FILE = 3000;

export function DiffView({ text, layout }: { text: string; layout: "unified" | "split" }) {
  const files = useMemo(() => parseUnifiedDiff(text), [text]);
  if (files.length === 0) return <p className="muted empty">No change.</p>;
  return (
    <div className="diff" data-testid="diff">
      {files.map((f) => (
        <FileDiff key={`${f.oldPath}->${f.newPath}`} file={f} layout={layout} />
      ))}
    </div>
  );
}

function Code({ line, language }: { line: DiffLine; language?: string }) {
  const html = line.kind === "note" ? undefined : highlightLine(line.text, language);
  // highlight.js escapes the source text; its markup is spans with class names only.
  // biome-ignore lint/security/noDangerouslySetInnerHtml: escaped by highlight.js, see above
  if (html !== undefined) return <code className="hljs" dangerouslySetInnerHTML={{ __html: html }} />;
  return <code>{line.text}</code>;
}

const SIGN = { add: "+", del: "−", context: " ", note: "" } as const;

function FileDiff({ file, layout }: { file: DiffFile; layout: "unified" | "split" }) {
  const language = languageOf(file.path);
  const total = file.hunks.reduce((n, h) => n + h.lines.length, 0);
  const [all, setAll] = useState(total <= MAX_LINES_PER_FILE);
  let budget = all ? Number.POSITIVE_INFINITY : MAX_LINES_PER_FILE;
  return (
    <section className="file" aria-label={file.path}>
      <h3 className="file-head mono">
        <span className={`fstatus f-${file.status}`}>{file.status}</span> {file.path}
        <span className="ok"> +{file.additions}</span>
        <span className="error"> −{file.deletions}</span>
      </h3>
      {file.binary && <p className="muted small">Binary file.</p>}
      <table className={`code ${layout}`}>
        {layout === "unified" ? (
          <colgroup>
            <col className="c-ln" />
            <col className="c-ln" />
            <col className="c-sign" />
            <col />
          </colgroup>
        ) : (
          <colgroup>
            <col className="c-ln" />
            <col className="c-half" />
            <col className="c-ln" />
            <col className="c-half" />
          </colgroup>
        )}
        <tbody>
          {file.hunks.map((h, hi) => {
            if (budget <= 0) return null;
            const rows =
              layout === "unified"
                ? h.lines.map((l, i) => (
                    // biome-ignore lint/suspicious/noArrayIndexKey: lines of a hunk, fixed
                    <tr key={i} className={`l-${l.kind}`}>
                      <td className="ln">{l.oldNo ?? ""}</td>
                      <td className="ln">{l.newNo ?? ""}</td>
                      <td
                        className="sign"
                        aria-label={l.kind === "add" ? "added" : l.kind === "del" ? "removed" : undefined}
                      >
                        {SIGN[l.kind]}
                      </td>
                      <td className="src">
                        <Code line={l} language={language} />
                      </td>
                    </tr>
                  ))
                : splitRows(h).map((r, i) => (
                    // biome-ignore lint/suspicious/noArrayIndexKey: rows of a hunk, fixed
                    <tr key={i}>
                      <td className="ln">{r.left?.oldNo ?? ""}</td>
                      <td className={`src half l-${r.left?.kind ?? "empty"}`}>
                        {r.left && <Code line={r.left} language={language} />}
                      </td>
                      <td className="ln">{r.right?.newNo ?? ""}</td>
                      <td className={`src half l-${r.right?.kind ?? "empty"}`}>
                        {r.right && <Code line={r.right} language={language} />}
                      </td>
                    </tr>
                  ));
            budget -= h.lines.length;
            return (
              // biome-ignore lint/suspicious/noArrayIndexKey: hunks of a file, fixed
              <Fragment key={hi}>
                <tr className="hunk">
                  <td colSpan={4} className="mono small">
                    {h.header}
                  </td>
                </tr>
                {rows}
              </Fragment>
            );
          })}
        </tbody>
      </table>
      {!all && (
        <button type="button" onClick={() => setAll(true)}>
          Show all {total} lines
        </button>
      )}
    </section>
  );
}
