import type { EntourageEvent } from "../../core/index.ts";

/**
 * The user's messages waiting for an agent: `intervention.received` events addressed to it (or to no
 * agent in particular) that no agent has received yet. `events` is the run's live event list (the phase
 * runner appends to it as events are written), so messages sent while the agent works are seen too.
 */
export class Inbox {
  private readonly events: readonly EntourageEvent[];
  private readonly agentId: string;
  private scanned = 0;
  private readonly pending = new Map<
    string,
    { interventionId: string; message: string; target?: string; redirect?: { to?: string } }
  >();

  constructor(events: readonly EntourageEvent[], agentId: string) {
    this.events = events;
    this.agentId = agentId;
  }

  take(): { interventionId: string; message: string; redirect?: { to?: string } }[] {
    for (; this.scanned < this.events.length; this.scanned++) {
      const e = this.events[this.scanned]!;
      if (e.type === "intervention.received") {
        this.pending.set(e.data.interventionId, {
          interventionId: e.data.interventionId,
          message: e.data.message,
          target: e.data.targetAgentId,
          redirect: e.data.redirect,
        });
      } else if (e.type === "intervention.delivered") {
        this.pending.delete(e.data.interventionId);
      }
    }
    const mine = [...this.pending.values()].filter(
      (m) => m.target === undefined || m.target === this.agentId,
    );
    for (const m of mine) this.pending.delete(m.interventionId);
    return mine;
  }
}
