import type { AgentDefinition } from "../../agents/index.ts";
import type { AgentReport, EntourageEvent, EventOf } from "../../core/index.ts";
import type { PhaseRunner } from "./phases.ts";

/** The follow-up request a reopened run is driven for: its last `run.reopened`, and which one it is. */
export function currentFollowUp(
  events: readonly EntourageEvent[],
): { event: EventOf<"run.reopened">; index: number } | undefined {
  const reopens = events.filter((e): e is EventOf<"run.reopened"> => e.type === "run.reopened");
  const event = reopens.at(-1);
  return event ? { event, index: reopens.length } : undefined;
}

/**
 * What the follow-up agent is told: the session's first task, how the run ended before this request (the
 * last `run.finished` ahead of it), then the request. The workspace already holds the earlier change.
 */
export function followUpMessage(
  task: string,
  events: readonly EntourageEvent[],
  followUp: EventOf<"run.reopened">,
): string {
  const ended = events.findLast((e) => e.type === "run.finished" && e.seq < followUp.seq);
  const before =
    ended?.type === "run.finished"
      ? `It ended ${ended.data.status}: ${ended.data.summary}`
      : "It has not ended before.";
  return [
    `Earlier in this session the user asked: ${task}`,
    before,
    "The repository copy you work in already holds every change made so far.",
    `Now the user asks: ${followUp.data.request}`,
    "(You are working in a private copy of the repository; paths are relative to its root.)",
  ].join("\n\n");
}

/**
 * Runs the follow-up phase of a reopened run (one agent, usually `general`), resumable like every phase: a
 * finished one returns its recorded report, a started one continues.
 */
export async function runFollowUp(
  phases: PhaseRunner,
  options: {
    task: string;
    followUp: { event: EventOf<"run.reopened">; index: number };
    agent: AgentDefinition;
  },
): Promise<{ report: AgentReport }> {
  const { event, index } = options.followUp;
  const result = await phases.run({
    phase: `follow-up#${index}`,
    agent: options.agent,
    task: followUpMessage(options.task, phases.events, event),
    reason: `a follow-up request from ${event.data.by}`,
  });
  return { report: result.report };
}
