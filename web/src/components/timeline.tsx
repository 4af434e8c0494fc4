import { useVirtualizer } from "@tanstack/react-virtual";
import {
  type CSSProperties,
  memo,
  useCallback,
  useEffect,
  useLayoutEffect,
  useMemo,
  useRef,
  useState,
} from "react";
import { type AnsiSegment, type AnsiStyle, parseAnsi } from "../lib/ansi.ts";
import { clip, describeArgs, formatDuration, formatTime } from "../lib/format.ts";
import type { OutputChunk, RunModel, TimelineItem } from "../model/run-model.ts";
import { RiskBadge } from "./badges.tsx";

/**
 * The timeline: a virtualised list (only the rows in view are in the page, so 10,000+ events stay fast)
 * that follows the newest row while the view is scrolled to the bottom, and stays put when the person
 * scrolls up to read.
 */
export function Timeline({
  model,
  items,
  follow,
  label = "Events",
}: {
  model: RunModel;
  items: TimelineItem[];
  follow?: boolean;
  label?: string;
}) {
  const scrollRef = useRef<HTMLDivElement>(null);
  const innerRef = useRef<HTMLDivElement>(null);
  // Following the end is the person's choice: scrolling up stops it, reaching the bottom resumes it.
  // Content growing (new rows, rows measured taller) never stops it.
  const stick = useRef(true);
  const lastTop = useRef(0);
  const [following, setFollowing] = useState(true);
  const virtualizer = useVirtualizer({
    count: items.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => 56,
    overscan: 8,
    getItemKey: (i) => items[i]!.key,
  });

  const toEnd = useCallback(() => {
    const el = scrollRef.current;
    if (!el) return;
    el.scrollTop = el.scrollHeight;
    lastTop.current = el.scrollTop;
  }, []);

  useLayoutEffect(() => {
    if (!follow || !stick.current || items.length === 0) return;
    virtualizer.scrollToIndex(items.length - 1, { align: "end" });
    toEnd();
  }, [follow, items, virtualizer, toEnd]);

  // Rows measured after the jump change the height: stay at the end while following.
  useEffect(() => {
    const inner = innerRef.current;
    if (!follow || !inner) return;
    const observer = new ResizeObserver(() => {
      if (stick.current) toEnd();
    });
    observer.observe(inner);
    return () => observer.disconnect();
  }, [follow, toEnd]);

  const onScroll = () => {
    const el = scrollRef.current;
    if (!el) return;
    const fromBottom = el.scrollHeight - el.scrollTop - el.clientHeight;
    if (fromBottom < 48) stick.current = true;
    else if (el.scrollTop < lastTop.current - 4) stick.current = false;
    lastTop.current = el.scrollTop;
    setFollowing(stick.current);
  };

  const agentName = (id?: string) => model.agentName(id);
  return (
    <div className="timeline-wrap">
      <div
        ref={scrollRef}
        className="timeline"
        onScroll={onScroll}
        data-testid="timeline"
        data-last-seq={model.lastSeq}
        data-items={items.length}
        role="log"
        aria-label={label}
        // biome-ignore lint/a11y/noNoninteractiveTabindex: the log scrolls with the keyboard
        tabIndex={0}
      >
        <div
          ref={innerRef}
          style={{ height: virtualizer.getTotalSize(), position: "relative", width: "100%" }}
        >
          {virtualizer.getVirtualItems().map((row) => {
            const item = items[row.index]!;
            const style: CSSProperties = {
              position: "absolute",
              top: 0,
              left: 0,
              width: "100%",
              transform: `translateY(${row.start}px)`,
            };
            return (
              <div key={row.key} data-index={row.index} ref={virtualizer.measureElement} style={style}>
                <ItemView item={item} agent={agentName(item.agentId)} />
              </div>
            );
          })}
        </div>
        {items.length === 0 && <p className="muted empty">Nothing yet.</p>}
      </div>
      {follow && !following && (
        <button
          type="button"
          className="jump"
          onClick={() => {
            stick.current = true;
            setFollowing(true);
            virtualizer.scrollToIndex(items.length - 1, { align: "end" });
            toEnd();
          }}
        >
          ↓ Newest
        </button>
      )}
    </div>
  );
}

const ItemView = memo(function ItemView({ item, agent }: { item: TimelineItem; agent: string }) {
  const head = (
    <span className="when mono" title={`event ${item.seq}`}>
      {formatTime(item.time)} <span className="seq">#{item.seq}</span>
    </span>
  );
  switch (item.kind) {
    case "agent":
      return (
        <div className="item item-agent" data-seq={item.seq}>
          {head}
          <div>
            <strong>{item.name}</strong> started{item.phase ? ` (${item.phase})` : ""}
            <span className="muted"> — {item.role}</span>
            <details>
              <summary className="small">Task</summary>
              <pre className="wrap small">{item.task}</pre>
            </details>
          </div>
        </div>
      );
    case "text":
    case "reasoning":
      return (
        <div
          className={`item item-${item.kind} ${item.state}`}
          data-seq={item.seq}
          data-testid={`${item.kind}-item`}
        >
          {head}
          <div>
            <span className="who">
              {agent}
              {item.kind === "reasoning" ? " · thinking" : ""}
              {item.state === "streaming" && <span className="streaming"> · streaming…</span>}
              {item.state === "cut" && <span className="cut"> · cut off</span>}
            </span>
            <div className="prose">{item.text}</div>
          </div>
        </div>
      );
    case "tool":
      return <ToolItem item={item} agent={agent} head={head} />;
    case "approval":
      return (
        <div className="item item-approval" data-seq={item.seq}>
          {head}
          <div>
            <span className="who">{agent}</span> asks to approve <strong>{item.approval.tool}</strong>{" "}
            <ApprovalOutcome approval={item.approval} />
          </div>
        </div>
      );
    case "intervention":
      return (
        <div className="item item-intervention" data-seq={item.seq} data-testid="intervention-item">
          {head}
          <div>
            <span className="who">
              {item.by} → {item.targetAgentId ? agent : "the run"}
              {item.interrupt ? " · interrupt" : ""}
            </span>
            <div className="prose">{item.message}</div>
            <span className="small muted">
              {item.delivered
                ? `delivered at step ${item.delivered.step}`
                : "waiting for the agent's next step"}
            </span>
          </div>
        </div>
      );
    case "plan":
      return (
        <div className="item item-plan" data-seq={item.seq}>
          {head}
          <div>
            <strong>{item.title}</strong>
            <ol className="small">
              {item.plan.steps.map((s) => (
                <li key={s.id}>
                  {s.description} <span className="muted">— {s.owner}</span>
                </li>
              ))}
            </ol>
          </div>
        </div>
      );
    case "report":
      return (
        <div className={`item item-report report-${item.report.status}`} data-seq={item.seq}>
          {head}
          <div>
            <strong>{item.name}</strong> finished: {item.report.status}
            {item.reason !== "finish" ? ` (${item.reason})` : ""}
            {item.report.testsPassed !== undefined && (
              <span className={item.report.testsPassed ? "ok" : "error"}>
                {" "}
                · tests {item.report.testsPassed ? "passed" : "failed"}
              </span>
            )}
            <div className="prose small">{item.report.summary}</div>
            {item.report.filesChanged.length > 0 && (
              <div className="small mono muted">{item.report.filesChanged.join(", ")}</div>
            )}
          </div>
        </div>
      );
    case "note":
      return (
        <div className={`item item-note tone-${item.tone}`} data-seq={item.seq}>
          {head}
          <div>
            <span>{item.title}</span>
            {item.detail && <div className="small muted wrap">{clip(item.detail, 2000)}</div>}
          </div>
        </div>
      );
  }
});

function ApprovalOutcome({
  approval,
}: {
  approval: NonNullable<Extract<TimelineItem, { kind: "tool" }>["approval"]>;
}) {
  const r = approval.resolved;
  if (!r) return <span className="pill status-waiting">waiting for approval</span>;
  const verb = r.decision === "approve" ? "approved" : r.decision === "deny" ? "denied" : "edited";
  return (
    <span className={`approval-outcome decision-${r.decision}`} data-testid="approval-outcome">
      {verb} by {r.by}
      {r.reason ? `: “${r.reason}”` : ""}
      {r.ruleLearned ? ` · rule saved: ${r.ruleLearned}` : ""}
    </span>
  );
}

function ToolItem({
  item,
  agent,
  head,
}: {
  item: Extract<TimelineItem, { kind: "tool" }>;
  agent: string;
  head: React.ReactNode;
}) {
  const r = item.result;
  const streamed = item.output.length > 0;
  const text = streamed ? undefined : r?.output;
  const lines = streamed
    ? item.output.reduce((n, c) => n + c.text.split("\n").length - 1, 0)
    : (text?.split("\n").length ?? 0);
  const [open, setOpen] = useState<boolean | undefined>(undefined);
  const isOpen = open ?? (item.state === "running" || (lines > 0 && lines <= 12));
  const status =
    item.state === "waiting"
      ? "waiting for approval"
      : item.state === "running"
        ? "running…"
        : item.state === "requested"
          ? "about to run"
          : r?.skipped
            ? `not run: ${r.skipped}`
            : r?.isError
              ? "error"
              : "done";
  const command = (item.args as { command?: unknown } | undefined)?.command;
  return (
    <div
      className={`item item-tool state-${item.state}${r?.isError ? " is-error" : ""}`}
      data-seq={item.seq}
      data-testid="tool-item"
      data-tool={item.name}
    >
      {head}
      <div>
        <div className="tool-head">
          <span className="who">{agent}</span>
          <strong className="mono">{item.name}</strong>
          <RiskBadge risk={item.risk} />
          <span className="mono args-summary">
            {typeof command === "string"
              ? `$ ${clip(command, 200)}`
              : describeArgs(item.name, item.args, 160)}
          </span>
        </div>
        <div className="tool-status small">
          <span className={`tool-state ts-${item.state}`}>{status}</span>
          {r?.exitCode !== undefined && (
            <span className={r.exitCode === 0 ? "ok" : "error"}> · exit {r.exitCode}</span>
          )}
          {r && <span className="muted"> · {formatDuration(r.durationMs)}</span>}
          {item.approval?.resolved && (
            <>
              {" · "}
              <ApprovalOutcome approval={item.approval} />
            </>
          )}
        </div>
        {typeof command !== "string" && (
          <details>
            <summary className="small">Arguments</summary>
            <pre className="args small">{JSON.stringify(item.args, null, 2)}</pre>
          </details>
        )}
        {(streamed || (text !== undefined && text !== "")) && (
          <details open={isOpen} onToggle={(e) => setOpen((e.target as HTMLDetailsElement).open)}>
            <summary className="small">
              Output{lines > 0 ? ` (${lines} line${lines === 1 ? "" : "s"})` : ""}
              {item.droppedChars > 0 ? ` · first ${item.droppedChars} characters not shown` : ""}
            </summary>
            {isOpen && <Output chunks={streamed ? item.output : [{ stream: "stdout", text: text ?? "" }]} />}
          </details>
        )}
      </div>
    </div>
  );
}

function segmentStyle(style: AnsiStyle): CSSProperties | undefined {
  if (Object.keys(style).length === 0) return undefined;
  const fg = style.inverse ? (style.bg ?? "#0b0e13") : style.fg;
  const bg = style.inverse ? (style.fg ?? "#d7dae0") : style.bg;
  return {
    color: fg,
    backgroundColor: bg,
    fontWeight: style.bold ? 700 : undefined,
    opacity: style.dim ? 0.7 : undefined,
    fontStyle: style.italic ? "italic" : undefined,
    textDecoration: style.underline ? "underline" : undefined,
  };
}

/** Command output with its ANSI colours as styled spans (text only: nothing is parsed as HTML). */
export function Output({ chunks }: { chunks: OutputChunk[] }) {
  const parts = useMemo(() => {
    const out: { stream: string; segments: AnsiSegment[] }[] = [];
    for (const c of chunks) out.push({ stream: c.stream, segments: parseAnsi(c.text) });
    return out;
  }, [chunks]);
  const ref = useRef<HTMLPreElement>(null);
  useEffect(() => {
    const el = ref.current;
    if (el) el.scrollTop = el.scrollHeight;
  });
  return (
    <pre className="output" ref={ref} data-testid="tool-output">
      {parts.map((p, i) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: chunks only grow at the end; the index is stable
        <span key={i} className={p.stream === "stderr" ? "stderr" : undefined}>
          {p.segments.map((s, j) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: segments of one chunk, in order
            <span key={j} style={segmentStyle(s.style)}>
              {s.text}
            </span>
          ))}
        </span>
      ))}
    </pre>
  );
}
