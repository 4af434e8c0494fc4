import type { EntourageEvent } from "../../core/events/index.ts";
import type { RunSummary } from "../event-store.ts";
import { leaseLostError, type RunLease } from "../lease.ts";
import { type Codec, loadedCodec } from "../load-codec.ts";
import { type RunRow, rowToSummary } from "../rows.ts";
import { foldRunSummary } from "../run-summary.ts";
import type { StampedEvent } from "../stamp-events.ts";
import { type prepareStatements, writeRunRow } from "./sqlite-statements.ts";

/** An append waiting for its group commit round. */
export interface PendingAppend {
  runId: string;
  stamped: StampedEvent[];
  leaseToken: string | undefined;
  /** Resolve only once on disk (the default); otherwise once committed. */
  durable: boolean;
  resolve: (events: EntourageEvent[]) => void;
  reject: (error: unknown) => void;
}

export type AppendOutcome = { firstPos: number } | { error: unknown };

/** Where a run stands after this connection's last round: its next seq and its list row. */
interface RunState {
  next: number;
  summary: RunSummary | undefined;
}

/**
 * The runs this connection wrote lately, as it wrote them, so a round does not read back per run the
 * seq and list row it wrote itself one round before (two statements of four per single-event append).
 * Valid only while no other connection has committed: `PRAGMA data_version`, read under the write lock,
 * changes exactly then, and the whole cache is dropped. A round that fails drops it too.
 */
export class RunStateCache {
  readonly #runs = new Map<string, RunState>();
  readonly #limit: number;
  /** `data_version` when the cache was last known valid; undefined: empty, nothing to check. */
  #version: number | undefined;

  constructor(limit = 4096) {
    this.#limit = limit;
  }

  /** Under the write lock, before a round reads any run: forgets everything if another connection committed. */
  check(dataVersion: number): void {
    if (dataVersion !== this.#version) this.#runs.clear();
    this.#version = dataVersion;
  }

  get(runId: string): RunState | undefined {
    return this.#runs.get(runId);
  }

  /** After a round committed: the runs it wrote, most recent last (the oldest go first when full). */
  remember(runId: string, state: RunState): void {
    this.#runs.delete(runId);
    this.#runs.set(runId, state);
    if (this.#runs.size > this.#limit) this.#runs.delete(this.#runs.keys().next().value as string);
  }

  clear(): void {
    this.#runs.clear();
    this.#version = undefined;
  }
}

/**
 * A round's writes, under the write lock: per run, the next seq and its list row come from the cache or
 * are read once, its lease is read once; each append's events are inserted (an append whose lease is lost
 * writes nothing and is refused alone); then each run's row is written once. Returns the outcomes and
 * what to remember once the transaction has committed.
 */
export function writeRound(
  sql: ReturnType<typeof prepareStatements>,
  cache: RunStateCache,
  readLease: (runId: string) => RunLease | undefined,
  batch: readonly PendingAppend[],
): { outcomes: AppendOutcome[]; commit: () => void } {
  cache.check((sql.dataVersion.get() as { data_version: number }).data_version);
  const runs = new Map<
    string,
    { next: number; before?: RunSummary; summary?: RunSummary; lease?: RunLease | null }
  >();
  const outcomes: AppendOutcome[] = [];
  const codec = loadedCodec() as Codec;
  for (const { runId, stamped, leaseToken } of batch) {
    let run = runs.get(runId);
    if (!run) {
      const known = cache.get(runId);
      if (known) run = { next: known.next, before: known.summary, summary: known.summary };
      else {
        const row = sql.getRun.get(runId) as RunRow | undefined;
        const before = row && rowToSummary(row);
        run = { next: (sql.nextSeq.get(runId) as { next: number }).next, before, summary: before };
      }
      runs.set(runId, run);
    }
    if (leaseToken !== undefined) {
      run.lease ??= readLease(runId) ?? null;
      if (run.lease?.token !== leaseToken) {
        outcomes.push({ error: leaseLostError(runId, run.lease ?? undefined) });
        continue;
      }
    }
    codec.assignSeqs(stamped, run.next);
    run.next += stamped.length;
    let firstPos = 0;
    const events: EntourageEvent[] = [];
    for (let i = 0; i < stamped.length; i++) {
      const { event, dataJson } = stamped[i] as StampedEvent;
      const result = sql.insertEvent.run(
        runId,
        event.seq,
        event.id,
        event.time,
        event.type,
        event.agentId ?? null,
        event.parentId ?? null,
        event.v,
        dataJson,
      );
      if (i === 0) firstPos = Number(result.lastInsertRowid);
      events.push(event);
    }
    run.summary = foldRunSummary(run.summary, runId, events);
    outcomes.push({ firstPos });
  }
  for (const { before, summary } of runs.values())
    if (summary && summary !== before) writeRunRow(sql, before, summary);
  return {
    outcomes,
    commit: () => {
      for (const [runId, { next, summary }] of runs) cache.remember(runId, { next, summary });
    },
  };
}

/**
 * Whether the next round is written while earlier ones wait for their fsync (pipelining). That pays when
 * writing the appends in flight takes the event loop longer than an fsync takes the disk: each then works
 * while the other does, instead of in turn. Below that, pipelining would only split one fsync's worth of
 * appends over two, so a round waits for the one before to settle and takes everything queued meanwhile.
 * Times in ms, smoothed over recent rounds.
 */
export class RoundPacer {
  #perAppend = 0;
  #flush = 0;
  #lastWrite = { began: 0, ended: 0 };

  wrote(appends: number, began: number, ended: number): void {
    const sample = (ended - began) / appends;
    this.#perAppend = this.#perAppend === 0 ? sample : 0.9 * this.#perAppend + 0.1 * sample;
    this.#lastWrite = { began, ended };
  }

  /**
   * An fsync's span as the event loop saw it. A transaction written meanwhile delays the report: the
   * fsync then ended between that transaction's start and the report, so only a bound is learnt (an
   * upper one that shows it faster than thought, or a lower one that shows it slower).
   */
  flushed(began: number, ended: number): void {
    const upper = ended - began;
    const lower = this.#lastWrite.ended > began ? Math.max(0, this.#lastWrite.began - began) : upper;
    const sample = upper < this.#flush ? upper : lower > this.#flush ? lower : undefined;
    if (sample === undefined) return;
    this.#flush = this.#flush === 0 ? sample : 0.9 * this.#flush + 0.1 * sample;
  }

  /** With `appends` queued or waiting for their flush. */
  overlaps(appends: number): boolean {
    return this.#flush > 0 && this.#perAppend * appends > this.#flush;
  }
}
