import type { EntourageEvent, EventData } from "../../core/index.ts";
import { AbortedError } from "../../core/index.ts";
import type { ExecResult, Sandbox } from "../../sandbox/index.ts";
import type { RunEmitter } from "../emitter.ts";
import { commandRuns } from "./phases.ts";

/** Output kept in a setup/verification event: the end, where test runners print their verdict. */
const OUTPUT_TAIL = 6000;

function tail(output: string): string {
  return output.length <= OUTPUT_TAIL
    ? output
    : `[… ${output.length - OUTPUT_TAIL} characters before]\n${output.slice(-OUTPUT_TAIL)}`;
}

export type Verification = EventData<"verification.ended">;

/** What the orchestrator's own commands need: where to log, where to run, when to stop. */
interface OwnCommandDeps {
  emitter: RunEmitter;
  sandbox: Sandbox;
  events: readonly EntourageEvent[];
  signal: AbortSignal;
}

/**
 * The last result of exactly `command` on the workspace as it is now: an agent's run of it, or an earlier
 * verification, with no checkpoint (no file changed) since. Its exit code is the world's answer, so running
 * the suite again would only cost time.
 */
function currentResult(
  events: readonly EntourageEvent[],
  command: string,
): { seq: number; exitCode: number; verification?: Verification } | undefined {
  const agentRuns = commandRuns(events).filter((r) => !r.timedOut && r.command.trim() === command);
  let found: { seq: number; exitCode: number; verification?: Verification } | undefined;
  let next = 0;
  for (const e of events) {
    while (next < agentRuns.length && agentRuns[next]!.seq <= e.seq) found = agentRuns[next++];
    if (e.type === "checkpoint.created" || e.type === "workspace.restored" || e.type === "workspace.merged")
      found = undefined;
    if (e.type === "verification.ended" && e.data.command === command && e.data.exitCode !== undefined)
      found = { seq: e.seq, exitCode: e.data.exitCode, verification: e.data };
  }
  return found;
}

/** Runs one of the orchestrator's own commands in the sandbox, its output streamed to the live views. */
async function runOwnCommand(
  deps: OwnCommandDeps,
  command: string,
  callId: "setup" | "verification",
): Promise<ExecResult> {
  const result = await deps.sandbox.exec(["bash", "-c", command], {
    signal: deps.signal,
    onOutput: (chunk) =>
      deps.emitter.emitDelta({
        type: "tool.output.delta",
        data: { callId, stream: chunk.stream, text: chunk.text },
      }),
  });
  if (deps.signal.aborted) throw new AbortedError(`the ${callId} command was interrupted`);
  return { ...result, output: tail(result.output) };
}

/**
 * Decides from the world whether the run's change works: the project's test command, run by the orchestrator in
 * the sandbox (not by a model), or the same command's result on the same workspace state. Logged as
 * `verification.started`/`verification.ended`; a run that cannot be verified says why.
 */
export async function verifyChange(
  deps: OwnCommandDeps & { testCommand?: { command: string; source: string }; enabled: boolean },
): Promise<Verification> {
  const { emitter, testCommand } = deps;
  const end = async (data: Verification): Promise<Verification> => {
    await emitter.emit({ type: "verification.ended", data });
    return data;
  };
  if (!deps.enabled) {
    return end({
      status: "not_verified",
      reason: "verification is turned off (verify: false / --no-verify)",
    });
  }
  if (!testCommand) {
    return end({
      status: "not_verified",
      reason: "no test command was found; set testCommand in .entourage/config.json or pass --test-command",
    });
  }
  const command = testCommand.command.trim();
  const known = currentResult(deps.events, command);
  // Already verified on this very workspace (the pipeline's last Tester round): that verdict stands.
  if (known?.verification) return known.verification;
  if (known) {
    return end({
      status: known.exitCode === 0 ? "passed" : "failed",
      reason: `${command} exited ${known.exitCode} on the final workspace (event ${known.seq})`,
      command,
      exitCode: known.exitCode,
      reusedSeq: known.seq,
    });
  }
  await emitter.emit({ type: "verification.started", data: { command, source: testCommand.source } });
  const result = await runOwnCommand(deps, command, "verification");
  const how = result.timedOut
    ? `timed out after ${Math.round(result.durationMs / 1000)} s`
    : result.killed
      ? `was killed (exit ${result.exitCode})`
      : `exited ${result.exitCode}`;
  return end({
    status: result.exitCode === 0 && !result.timedOut ? "passed" : "failed",
    reason: `${command} ${how}`,
    command,
    exitCode: result.exitCode,
    timedOut: result.timedOut,
    durationMs: result.durationMs,
    output: result.output,
  });
}

/**
 * The repository's setup command, once per workspace before any agent: logged as `setup.started`/`setup.ended`.
 * A run interrupted during setup runs it again (setup commands such as `npm ci` are meant to be repeatable).
 */
export async function runSetup(
  deps: OwnCommandDeps & { setup: { command: string; network: "off" | "on" } },
): Promise<EventData<"setup.ended">> {
  const done = deps.events.findLast((e) => e.type === "setup.ended");
  if (done?.type === "setup.ended") return done.data;
  const { command, network } = deps.setup;
  await deps.emitter.emit({ type: "setup.started", data: { command, network } });
  const result = await runOwnCommand(deps, command, "setup");
  const data = {
    command,
    exitCode: result.exitCode,
    timedOut: result.timedOut,
    durationMs: result.durationMs,
    output: result.output,
  };
  await deps.emitter.emit({ type: "setup.ended", data });
  return data;
}
