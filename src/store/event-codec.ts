/**
 * Events into rows and back: validation against the event schemas (zod) on both ways. Kept apart from
 * rows.ts so a backend can load it on its first read or append: `entourage runs` lists the runs table
 * and never needs it (loading zod and the schemas is most of a short command's start; see
 * docs/architecture.md, "Start-up").
 */

import { UserError } from "../core/errors.ts";
import { type EntourageEvent, EVENT_FORMAT_VERSION, parseEvent } from "../core/events/index.ts";
import type { EventRow } from "./rows.ts";

export { assignSeqs, type StampedEvent, stampEvents } from "./stamp-events.ts";

/**
 * Turns a stored row back into a typed event, validated against the event schemas: this is the reader
 * of the persisted format, and what the per-version fixture tests exercise.
 */
export function decodeEventRow(row: EventRow): EntourageEvent {
  if (row.v > EVENT_FORMAT_VERSION) {
    throw new UserError(
      "event_format_newer",
      `Event ${row.seq} of run ${row.run_id} has format version ${row.v}, newer than this Entourage reads ` +
        `(${EVENT_FORMAT_VERSION}). Upgrade Entourage to read this run.`,
    );
  }
  const raw: Record<string, unknown> = {
    id: row.id,
    runId: row.run_id,
    seq: row.seq,
    time: row.time,
    v: row.v,
    type: row.type,
    data: JSON.parse(row.data),
  };
  if (row.agent_id !== null) raw.agentId = row.agent_id;
  if (row.parent_id !== null) raw.parentId = row.parent_id;
  return parseEvent(raw);
}
