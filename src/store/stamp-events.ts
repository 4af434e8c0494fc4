import {
  type Clock,
  EntourageError,
  type EntourageEvent,
  EVENT_FORMAT_VERSION,
  eventTypes,
  type IdGenerator,
  type NewEvent,
  safeParseEvent,
} from "../core/index.ts";
import { checkRunId } from "./check-arguments.ts";

const knownTypes: ReadonlySet<string> = new Set(eventTypes);

/** An event ready to be written: typed, validated, with its `data` already serialised once. */
export interface StampedEvent {
  event: EntourageEvent;
  /** `event.data` as JSON, exactly what a backend persists. */
  dataJson: string;
}

/**
 * Validates a batch and fills in the envelope fields every backend assigns the same way: `id`, `time`
 * (one clock reading per batch: the batch commits as one), `v` and `seq` (from `firstSeq`). Throws an
 * `invalid_event` error naming the event and field before anything is written, so a batch is all or
 * nothing. `event.data` is the JSON round trip of the input, so what `append` returns and what `read`
 * returns later are the same value (no `undefined` keys, no class instances).
 */
export function stampEvents(
  runId: string,
  events: readonly NewEvent[],
  deps: { clock: Clock; ids: IdGenerator },
): StampedEvent[] {
  checkRunId(runId);
  const time = deps.clock();
  const stamped: StampedEvent[] = [];
  for (let i = 0; i < events.length; i++) {
    const input = events[i] as NewEvent;
    const candidate: Record<string, unknown> = {
      id: deps.ids("evt"),
      runId,
      seq: i,
      time,
      v: EVENT_FORMAT_VERSION,
      type: input.type,
      data: input.data,
    };
    if (input.agentId !== undefined) candidate.agentId = input.agentId;
    if (input.parentId !== undefined) candidate.parentId = input.parentId;
    if (!knownTypes.has(input.type)) {
      throw new EntourageError(
        "invalid_event",
        `Cannot append to run ${runId}: event ${i} of the batch has unknown type ${JSON.stringify(input.type)}. ` +
          "Nothing of the batch was written; every event type needs a schema in src/core/events.",
      );
    }
    const parsed = safeParseEvent(candidate);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const field = issue && issue.path.length > 0 ? issue.path.join(".") : "(event)";
      throw new EntourageError(
        "invalid_event",
        `Cannot append to run ${runId}: event ${i} of the batch (type "${String(input.type)}") is invalid at ` +
          `${field}: ${issue?.message ?? "invalid"}. Nothing of the batch was written; fix the emitter of this event.`,
        { cause: parsed.error },
      );
    }
    let dataJson: string | undefined;
    try {
      dataJson = JSON.stringify(parsed.data.data);
    } catch (cause) {
      throw new EntourageError(
        "invalid_event",
        `Cannot append to run ${runId}: event ${i} of the batch (type "${input.type}") has data that is not ` +
          `JSON-serialisable. Nothing of the batch was written.`,
        { cause },
      );
    }
    const event = parsed.data;
    // `z.unknown()` fields (tool args) would otherwise keep the caller's references; persist-equivalent copy.
    event.data = dataJson === undefined ? undefined : JSON.parse(dataJson);
    stamped.push({ event, dataJson: dataJson ?? "null" });
  }
  return stamped;
}

/** Sets the gap-free `seq` of a stamped batch once the backend knows where the run stands. */
export function assignSeqs(stamped: readonly StampedEvent[], firstSeq: number): void {
  for (let i = 0; i < stamped.length; i++) (stamped[i] as StampedEvent).event.seq = firstSeq + i;
}
