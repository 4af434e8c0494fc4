import { useDeferredValue, useEffect, useMemo, useState } from "react";
import { formatTime } from "../lib/format.ts";
import type { LiveRun } from "../model/live-run.ts";
import { modelAt } from "../model/run-model.ts";
import { AgentTree, PlanPanel } from "./agent-tree.tsx";
import { StatusPill } from "./badges.tsx";
import { TimeTravel } from "./diff-tab.tsx";
import { Timeline } from "./timeline.tsx";

/**
 * Replay: a scrubber over the run's events. The state at any point is the same fold the live page uses,
 * over the events up to that point. Keys on the slider: arrows step one event, PageUp/PageDown ten.
 */
export function ReplayTab({ live }: { live: LiveRun }) {
  const events = live.model.events;
  const last = events.at(-1)?.seq ?? 0;
  const [position, setPosition] = useState(last);
  const [playing, setPlaying] = useState(false);
  const [selected, setSelected] = useState<string>();
  const deferred = useDeferredValue(position);
  const model = useMemo(() => modelAt(live.runId, events, deferred), [live.runId, events, deferred]);
  const items = useMemo(
    () => (selected === undefined ? model.items : model.items.filter((i) => i.agentId === selected)),
    [model, selected],
  );

  useEffect(() => {
    if (!playing) return;
    const step = Math.max(1, Math.round(last / 200));
    const t = setInterval(() => {
      setPosition((p) => {
        if (p >= last) {
          setPlaying(false);
          return last;
        }
        return Math.min(last, p + step);
      });
    }, 50);
    return () => clearInterval(t);
  }, [playing, last]);

  const at = events.find((e) => e.seq === deferred);
  const checkpoints = live.model.state.checkpoints.map((c) => c.seq);
  const prevCheckpoint = checkpoints.filter((s) => s < position).at(-1);
  const nextCheckpoint = checkpoints.find((s) => s > position);
  return (
    <div className="replay-tab">
      <div className="scrubber card">
        <div className="row">
          <button
            type="button"
            onClick={() => {
              if (position >= last) setPosition(0);
              setPlaying((p) => !p);
            }}
          >
            {playing ? "Pause" : "Play"}
          </button>
          <button
            type="button"
            onClick={() => setPosition((p) => Math.max(0, p - 1))}
            aria-label="Previous event"
          >
            ◀
          </button>
          <label htmlFor="replay-position" className="sr-only">
            Event
          </label>
          <input
            id="replay-position"
            type="range"
            min={0}
            max={last}
            value={position}
            onChange={(e) => setPosition(Number(e.target.value))}
            aria-valuetext={`event ${position} of ${last}${at ? `: ${at.type}` : ""}`}
            data-testid="scrubber"
          />
          <button
            type="button"
            onClick={() => setPosition((p) => Math.min(last, p + 1))}
            aria-label="Next event"
          >
            ▶
          </button>
          <button
            type="button"
            disabled={prevCheckpoint === undefined}
            onClick={() => setPosition(prevCheckpoint ?? 0)}
          >
            ⏮ checkpoint
          </button>
          <button
            type="button"
            disabled={nextCheckpoint === undefined}
            onClick={() => setPosition(nextCheckpoint ?? last)}
          >
            checkpoint ⏭
          </button>
        </div>
        {/* The position the shown state was folded at (it trails the slider while a big log folds). */}
        <p className="small" data-testid="replay-position">
          Event <strong>#{deferred}</strong> of {last}
          {at && (
            <>
              {" · "}
              <span className="mono">{at.type}</span> at {formatTime(at.time)}
            </>
          )}
          {" · status then: "}
          <StatusPill status={model.state.status} />
          <span data-testid="replay-status" className="sr-only">
            {model.state.status}
          </span>
        </p>
        <TimeTravel live={live} seq={position} />
      </div>
      <div className="run-body">
        <aside className="side" aria-label="Agents at this point">
          <AgentTree model={model} selected={selected} onSelect={setSelected} />
          <PlanPanel model={model} />
        </aside>
        <section className="main-col" aria-label="Timeline at this point">
          <Timeline model={model} items={items} follow label="Events up to this point" />
        </section>
      </div>
    </div>
  );
}
