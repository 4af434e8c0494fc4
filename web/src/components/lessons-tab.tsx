import { type KeyboardEvent, type RefObject, useEffect, useMemo, useRef, useState } from "react";
import { isTerminal } from "../../../src/core/state.ts";
import { ApiError, api } from "../lib/api.ts";
import type { LiveRun } from "../model/live-run.ts";
import { useSession } from "../session.tsx";
import type { EntourageEvent, Lesson, LessonConflicts, LessonDecision, Lessons } from "../types.ts";

/** Proposed lessons of a run that nobody decided yet, from its log (for the tab's count). */
export function pendingLessons(events: readonly EntourageEvent[]): number {
  const pending = new Set<string>();
  for (const e of events) {
    if (e.type === "lesson.proposed") pending.add(e.data.lessonId);
    else if (e.type === "lesson.decided") pending.delete(e.data.lessonId);
  }
  return pending.size;
}

const CORRECTION_KINDS: Record<NonNullable<Lesson["correction"]>["kind"], string> = {
  denial: "denial",
  "plan-edit": "edit of the plan",
  "plan-sent-back": "plan sent back",
  intervention: "message to the agent",
};

const STATUS_LABELS: Record<Lesson["status"], string> = {
  pending: "waiting for you",
  accepted: "accepted",
  edited: "edited and accepted",
  rejected: "rejected",
};

const fileName = (path: string) => path.split(/[\\/]/).slice(-2).join("/");

/**
 * The lessons the run proposed from the person's corrections (the dashboard's side of
 * `entourage memory review`): accept, edit then accept, or reject each. Accepting writes the repo's
 * `.entourage/memory.md`; a clash with a saved lesson is shown with that lesson's text and the API's
 * choices (keep both, replace, cancel), never stacked silently.
 */
export function LessonsTab({ live }: { live: LiveRun }) {
  const events = live.model.events;
  const status = live.model.state.status;
  const [data, setData] = useState<Lessons>();
  const [error, setError] = useState<string>();
  const [reload, setReload] = useState(0);
  // Proposals arrive (and decisions are logged) as events: reload when one does.
  // biome-ignore lint/correctness/useExhaustiveDependencies: the model mutates in place; its version says when it changed
  const lessonEvents = useMemo(
    () => events.filter((e) => e.type.startsWith("lesson.")).length,
    [events, live.model.version],
  );
  // biome-ignore lint/correctness/useExhaustiveDependencies: lessonEvents and reload say when to load again
  useEffect(() => {
    let cancelled = false;
    api.lessons(live.runId).then(
      (d) => {
        if (cancelled) return;
        setData(d);
        setError(undefined);
      },
      (e) => !cancelled && setError(e instanceof ApiError ? e.message : String(e)),
    );
    return () => {
      cancelled = true;
    };
  }, [live.runId, lessonEvents, reload]);

  const lessons = data?.lessons ?? [];
  const waiting = lessons.filter((l) => l.status === "pending").length;
  return (
    <section className="lessons-tab" aria-labelledby="lessons-title">
      <div className="lessons-head">
        <h2 id="lessons-title">Lessons from your corrections</h2>
        {data && (
          <p className="muted small">
            {lessons.length === 0
              ? ""
              : waiting > 0
                ? `${waiting} of ${lessons.length} waiting for your decision. `
                : "All decided. "}
            Accepted lessons are written to <span className="mono">{data.file}</span> in your checkout; every
            agent of later runs on this repository reads them.
          </p>
        )}
      </div>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {!data && !error && <p className="muted">Loading lessons…</p>}
      {data && lessons.length === 0 && (
        <div className="card empty muted" data-testid="no-lessons">
          {isTerminal(status)
            ? "No lessons proposed: this run had no corrections (a denial with a reason, an edited or sent-back plan, a message to the agent), or the model found nothing general in them."
            : "Lessons are proposed once the run has finished, one per correction you make: a denial with a reason, an edited or sent-back plan, a message to the agent."}
        </div>
      )}
      <ul className="lessons">
        {lessons.map((l) => (
          <li key={l.lessonId}>
            <LessonCard
              runId={live.runId}
              lesson={l}
              file={data?.file ?? "memory.md"}
              onDecided={() => setReload((n) => n + 1)}
            />
          </li>
        ))}
      </ul>
    </section>
  );
}

type Mode = "idle" | "edit";

/** A refused decision (409 lesson_conflicts) and the saved lessons in its way. */
type Clash = { body: LessonDecision; conflicts: LessonConflicts; message: string };

function LessonCard({
  runId,
  lesson,
  file,
  onDecided,
}: {
  runId: string;
  lesson: Lesson;
  file: string;
  onDecided: () => void;
}) {
  const session = useSession();
  const signedIn = session.signedIn === true;
  const pending = lesson.status === "pending";
  const [mode, setMode] = useState<Mode>("idle");
  const [text, setText] = useState(lesson.text);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const [done, setDone] = useState<string>();
  /** A refused decision (409 lesson_conflicts) and the saved lessons in its way. */
  const [clash, setClash] = useState<Clash>();
  const cardRef = useRef<HTMLElement>(null);
  const editRef = useRef<HTMLButtonElement>(null);
  const fieldRef = useRef<HTMLTextAreaElement>(null);
  const choiceRef = useRef<HTMLButtonElement>(null);
  const titleId = `lesson-${lesson.lessonId}`;

  useEffect(() => {
    if (mode === "edit") {
      const field = fieldRef.current;
      field?.focus();
      field?.setSelectionRange(field.value.length, field.value.length);
    }
  }, [mode]);
  useEffect(() => {
    if (clash) choiceRef.current?.focus();
  }, [clash]);

  const send = async (body: LessonDecision) => {
    setBusy(true);
    setError(undefined);
    try {
      const result = await api.decideLesson(runId, lesson.lessonId, body);
      setClash(undefined);
      setMode("idle");
      setDone(
        result.saved
          ? `Saved to ${fileName(result.saved.file)} as ${result.saved.lessonId}${
              result.saved.replaced.length > 0 ? `, replacing ${result.saved.replaced.join(", ")}` : ""
            }.`
          : "Rejected: nothing was written.",
      );
      onDecided();
      cardRef.current?.focus();
    } catch (e) {
      const conflicts = (e as ApiError).body as { conflicts?: LessonConflicts } | undefined;
      if (e instanceof ApiError && e.code === "lesson_conflicts" && conflicts?.conflicts) {
        setClash({ body, conflicts: conflicts.conflicts, message: e.message });
      } else {
        setError(e instanceof ApiError ? e.message : String(e));
      }
    } finally {
      setBusy(false);
    }
  };

  const edited = text.trim();
  const accept = () => send({ decision: "accepted" });
  const reject = () => send({ decision: "rejected" });
  const saveEdit = () => {
    if (edited === "" || edited.length > 500) return;
    return send(edited === lesson.text ? { decision: "accepted" } : { decision: "edited", text: edited });
  };
  const cancel = () => {
    setClash(undefined);
    setError(undefined);
    if (mode === "edit") {
      setMode("idle");
      setText(lesson.text);
    }
    editRef.current?.focus();
  };

  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key === "Escape" && (mode !== "idle" || clash)) {
      e.preventDefault();
      cancel();
      return;
    }
    const target = e.target as HTMLElement;
    if (target.tagName === "TEXTAREA") {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        void saveEdit();
      }
      return;
    }
    if (!pending || !signedIn || busy || clash || mode !== "idle" || e.ctrlKey || e.metaKey || e.altKey)
      return;
    const key = e.key.toLowerCase();
    if (key === "a") {
      e.preventDefault();
      void accept();
    } else if (key === "e") {
      e.preventDefault();
      setMode("edit");
    } else if (key === "r") {
      e.preventDefault();
      void reject();
    }
  };

  const shownText = lesson.status === "edited" ? (lesson.decidedText ?? lesson.text) : lesson.text;
  const known = lesson.conflicts;
  const warned = pending && known && known.duplicates.length + known.contradictions.length > 0;
  return (
    <article
      ref={cardRef}
      className={`card lesson lesson-${lesson.status}`}
      aria-labelledby={titleId}
      data-testid="lesson"
      data-lesson-id={lesson.lessonId}
      data-status={lesson.status}
      tabIndex={-1}
      onKeyDown={onKeyDown}
    >
      <div className="lesson-head">
        <h3 id={titleId} className="mono">
          {lesson.lessonId}
        </h3>
        <span className={`pill lesson-status-${lesson.status}`} data-testid="lesson-status">
          {STATUS_LABELS[lesson.status]}
        </span>
        {lesson.drafted === "model" && (
          <span className="badge" title="The run's own model drafted it from your correction">
            drafted by the model
          </span>
        )}
        {lesson.drafted === "quoted" && (
          <span className="badge quoted" title="Your correction word for word: no model drafted it">
            quoted
          </span>
        )}
      </div>

      {mode === "edit" ? (
        <div className="field">
          <label htmlFor={`${titleId}-text`}>Lesson text (as it will be saved)</label>
          <textarea
            id={`${titleId}-text`}
            ref={fieldRef}
            rows={3}
            maxLength={600}
            value={text}
            onChange={(e) => setText(e.target.value)}
            aria-describedby={`${titleId}-hint`}
          />
          <span id={`${titleId}-hint`} className="muted small">
            {edited.length > 500
              ? `${edited.length}/500 characters: too long`
              : "Ctrl+Enter saves and accepts · Esc cancels"}
          </span>
        </div>
      ) : (
        <p
          className={`lesson-text ${lesson.status === "rejected" ? "struck" : ""}`}
          data-testid="lesson-text"
        >
          {shownText}
        </p>
      )}
      {lesson.status === "edited" && lesson.decidedText !== lesson.text && (
        <p className="muted small">Proposed as: “{lesson.text}”</p>
      )}

      <p className="muted small provenance" data-testid="lesson-provenance">
        From your {lesson.correction ? CORRECTION_KINDS[lesson.correction.kind] : "correction"} at{" "}
        <span className="mono">event #{lesson.sourceSeq}</span>
        {lesson.correction && (
          <>
            : <span className="said">“{lesson.correction.text}”</span>
          </>
        )}
        {lesson.note && <> · {lesson.note}</>}
      </p>

      {warned && !clash && <KnownConflicts conflicts={known} />}

      {clash && (
        <ClashChoice
          clash={clash}
          file={file}
          busy={busy}
          choiceRef={choiceRef}
          send={send}
          cancel={cancel}
        />
      )}

      {pending && !clash && (
        <LessonActions
          lessonId={lesson.lessonId}
          editing={mode === "edit"}
          signedIn={signedIn}
          busy={busy}
          edited={edited}
          editRef={editRef}
          on={{ accept, reject, saveEdit, cancel, edit: () => setMode("edit") }}
        />
      )}

      <p className={`small decided decided-${lesson.status}`} aria-live="polite" data-testid="lesson-decided">
        {pending
          ? ""
          : (done ??
            (lesson.status === "rejected"
              ? "Rejected: nothing was written."
              : lesson.saved
                ? `Saved to ${fileName(file)}.`
                : "Decided, but not written yet: decide again (or run entourage memory review) to finish."))}
      </p>
      {error && (
        <p role="alert" className="error small">
          {error}
        </p>
      )}
    </article>
  );
}

/** What the saved lessons already say against this one (duplicates, contradictions), before deciding. */
function KnownConflicts({ conflicts }: { conflicts: LessonConflicts }) {
  return (
    <div className="lesson-warning small" data-testid="lesson-warning">
      {conflicts.duplicates.map((l) => (
        <p key={`d-${l.id}`}>
          ! This duplicates <span className="mono">{l.id}</span> “{l.text}”
        </p>
      ))}
      {conflicts.contradictions.map((l) => (
        <p key={`c-${l.id}`}>
          ! This may contradict <span className="mono">{l.id}</span> “{l.text}”
        </p>
      ))}
    </div>
  );
}

/** A refused decision: the saved lessons in its way, and keep both / replace / cancel. */
function ClashChoice({
  clash,
  file,
  busy,
  choiceRef,
  send,
  cancel,
}: {
  clash: Clash;
  file: string;
  busy: boolean;
  choiceRef: RefObject<HTMLButtonElement | null>;
  send: (body: LessonDecision) => void;
  cancel: () => void;
}) {
  const clashIds = [...clash.conflicts.duplicates, ...clash.conflicts.contradictions].map((l) => l.id);
  return (
    <fieldset className="lesson-clash" data-testid="lesson-clash">
      <legend>
        <strong>Not saved yet:</strong> {clash.body.decision === "edited" ? "your text" : "this lesson"}{" "}
        clashes with {clashIds.length === 1 ? "a saved lesson" : "saved lessons"} in {fileName(file)}. Keep
        both, replace, or cancel:
      </legend>
      <ul>
        {clash.conflicts.duplicates.map((l) => (
          <li key={`d-${l.id}`}>
            duplicates <span className="mono">{l.id}</span> “{l.text}”
          </li>
        ))}
        {clash.conflicts.contradictions.map((l) => (
          <li key={`c-${l.id}`}>
            may contradict <span className="mono">{l.id}</span> “{l.text}”
          </li>
        ))}
      </ul>
      <div className="row wrap">
        <button
          type="button"
          ref={choiceRef}
          disabled={busy}
          onClick={() =>
            send({
              ...clash.body,
              force: clash.conflicts.duplicates.length > 0 || undefined,
              keepBoth: clash.conflicts.contradictions.length > 0 || undefined,
            })
          }
        >
          Keep both
        </button>
        <button
          type="button"
          disabled={busy}
          onClick={() => send({ ...clash.body, force: true, replace: clashIds })}
        >
          Replace {clashIds.join(", ")}
        </button>
        <button type="button" disabled={busy} onClick={cancel}>
          Cancel
        </button>
      </div>
    </fieldset>
  );
}

/** Accept / edit / reject (or, while editing, save / cancel), with their keys. */
function LessonActions({
  lessonId,
  editing,
  signedIn,
  busy,
  edited,
  editRef,
  on,
}: {
  lessonId: string;
  editing: boolean;
  signedIn: boolean;
  busy: boolean;
  edited: string;
  editRef: RefObject<HTMLButtonElement | null>;
  on: { accept: () => void; reject: () => void; saveEdit: () => void; cancel: () => void; edit: () => void };
}) {
  return (
    <div className="row wrap actions">
      {editing ? (
        <>
          <button
            type="button"
            className="primary"
            disabled={!signedIn || busy || edited === "" || edited.length > 500}
            onClick={on.saveEdit}
            aria-keyshortcuts="Control+Enter"
          >
            Save and accept
          </button>
          <button type="button" disabled={busy} onClick={on.cancel} aria-keyshortcuts="Escape">
            Cancel
          </button>
        </>
      ) : (
        <>
          <button
            type="button"
            className="primary"
            disabled={!signedIn || busy}
            onClick={on.accept}
            aria-keyshortcuts="A"
            aria-label={`Accept ${lessonId}`}
          >
            Accept
          </button>
          <button
            type="button"
            ref={editRef}
            disabled={!signedIn || busy}
            onClick={on.edit}
            aria-keyshortcuts="E"
            aria-label={`Edit ${lessonId}`}
          >
            Edit…
          </button>
          <button
            type="button"
            disabled={!signedIn || busy}
            onClick={on.reject}
            aria-keyshortcuts="R"
            aria-label={`Reject ${lessonId}`}
          >
            Reject
          </button>
          {!signedIn && <span className="muted small">Sign in to decide.</span>}
          {signedIn && <span className="muted small keys">A accept · E edit · R reject</span>}
        </>
      )}
    </div>
  );
}
