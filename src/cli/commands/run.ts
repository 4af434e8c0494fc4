import { AbortedError, errorMessage } from "../../core/index.ts";
import type { RunControl } from "../../orchestrator/index.ts";
import type { EventStore } from "../../store/index.ts";
import { openStore } from "../compose.ts";
import { createRunControl, driveParts } from "../drive.ts";
import { type DriveParts, logNewRun, type PreparedRun, partsOf, prepareRun } from "../launcher.ts";
import { startRunServer } from "../remote/run-server.ts";
import { EXIT, reportError } from "../terminal/exit.ts";
import { abortOnSignals, attachView, exitCodeOf, liveOutput, unattendedApprover } from "../terminal/live.ts";
import { STEER_KEYS, SteerConsole, type Steering } from "../terminal/steer-console.ts";
import { colorEnabled, makeStyle } from "../terminal/style.ts";
import { reviewLessonsAfterRun } from "./memory.ts";
import { type RunFlags, runOptionsOf } from "./run-flags.ts";
import { terminalTrustQuestion } from "./trust.ts";

export type { RunFlags } from "./run-flags.ts";

/** `entourage run`: copy the repo, run the agent live, leave the change ready to diff and apply. */
export async function runCommand(task: string, flags: RunFlags): Promise<number> {
  try {
    const prepared = await prepareRun({
      ...runOptionsOf(flags),
      task,
      repo: flags.repo,
      askTrust: terminalTrustQuestion(flags.json),
    });
    return await startRun({ ...prepared, json: flags.json ?? false, server: flags.server });
  } catch (error) {
    return reportError(error);
  }
}

/**
 * Walks a person at the terminal through a run (the demo's guided tour): started once the run's server is
 * up, with the run's live control; what it writes goes through the live view, below the run's output.
 * Returns its stop function.
 */
export interface RunGuide {
  start(live: {
    store: EventStore;
    runId: string;
    control: RunControl;
    dashboardUrl?: string;
    write: (text: string) => void;
  }): () => void;
}

export interface StartRunOptions extends PreparedRun {
  json: boolean;
  /** Serve the HTTP API while the run is live (default true; --no-server). */
  server?: boolean;
  /** What drives the run, as `runs` and a refused `resume` name it (default "entourage run"). */
  label?: string;
  /** On a terminal (the steering console reads it): a guide through the run. */
  guide?: RunGuide;
}

/** Logs `run.created` and drives the run with a live view. Shared by `run` and `demo`. */
export async function startRun(options: StartRunOptions): Promise<number> {
  const store = await openStore();
  try {
    const detach = attachView(store, options.runId, options.json);
    const lease = await logNewRun(store, options, options.label ?? "entourage run");
    const parts = await partsOf(options, lease).catch(async (error: unknown) => {
      await lease.release();
      throw error;
    });
    return await drive(store, options.runId, {
      ...parts,
      detach,
      json: options.json,
      server: options.server,
      guide: options.guide,
    });
  } finally {
    await store.close();
  }
}

/**
 * Drives a run (new or resumed) to its end or to an interruption; returns the exit code. While the run is
 * live, its HTTP API listens on 127.0.0.1 (unless `server` is false) and the URL is printed; on a
 * terminal, typed lines steer the run and answer approvals (one line reader for the whole run).
 */
export async function drive(
  store: EventStore,
  runId: string,
  parts: DriveParts & {
    detach: () => void;
    /** JSONL on stdout: the URL goes to stderr and the terminal is not read. */
    json?: boolean;
    server?: boolean;
    guide?: RunGuide;
  },
): Promise<number> {
  const signals = abortOnSignals();
  const style = makeStyle(colorEnabled(process.stdout));
  const steering: { control?: RunControl } = {};
  const console =
    process.stdin.isTTY && !parts.json
      ? new SteerConsole({
          input: process.stdin,
          output: process.stdout,
          style,
          terminal: true,
          steering: localSteering(() => steering.control),
        })
      : undefined;
  liveOutput.through = console?.write;
  let serverUrl: string | undefined;
  const fallback = unattendedApprover(parts.yes);
  const control = createRunControl(
    runId,
    parts,
    console?.approver ??
      (async (request, signal) => {
        if (serverUrl && !parts.yes) {
          process.stderr.write(
            `${request.tool} needs approval (${request.reason}); waiting for an answer: POST ${serverUrl}/runs/${runId}/approvals/${request.approvalId} {"decision":"approve"} (or deny), or run with --yes.\n`,
          );
        }
        return fallback(request, signal);
      }),
  );
  steering.control = control;
  type Server = { url: string; dashboardUrl: string; close: () => Promise<void> };
  let server: Server | undefined;
  let serverStarting: Promise<Server | undefined> | undefined;
  let stopGuide: (() => void) | undefined;
  try {
    if (parts.server !== false) {
      // The server starts beside the run, not before it: its set-up (node:http, the token, the port) runs
      // while the first model request is on its way, and its URL is printed when it listens. An approval
      // asked meanwhile waits for a remote answer as it would once the server is up.
      control.hasRemoteClients = true;
      serverStarting = startRunServer(store, runId, control).then(
        (started) => {
          serverUrl = started.url;
          const line = `dashboard ${started.dashboardUrl}\napi ${started.url}  ·  watch: curl -N ${started.url}/runs/${runId}/stream  ·  attach: entourage attach ${runId}\n`;
          if (parts.json) process.stderr.write(line);
          else liveOutput.write(style.dim(line));
          return started;
        },
        (error: unknown) => {
          control.hasRemoteClients = false;
          process.stderr.write(
            `entourage: the API server did not start (${errorMessage(error)}); the run goes on without it.\n`,
          );
          return undefined;
        },
      );
      // The guided tour links to the dashboard: it starts once the server listens.
      if (console && parts.guide) server = await serverStarting;
    }
    if (console) process.stdout.write(style.dim(`keys: ${STEER_KEYS}\n`));
    stopGuide = console
      ? parts.guide?.start({
          store,
          runId,
          control,
          dashboardUrl: server?.dashboardUrl,
          write: liveOutput.write,
        })
      : undefined;
    const state = await driveParts(runId, parts, control, signals.signal);
    stopGuide?.();
    parts.detach();
    // Lessons from this run's corrections: asked about here on a terminal (the console stops reading it).
    console?.close();
    await reviewLessonsAfterRun(store, runId, {
      interactive: console !== undefined,
      json: parts.json ?? false,
    });
    return exitCodeOf(state);
  } catch (error) {
    parts.detach();
    if (AbortedError.isInstance(error) || signals.received())
      return signals.received() === "SIGTERM" ? EXIT.sigterm : EXIT.sigint;
    throw error;
  } finally {
    stopGuide?.();
    signals.dispose();
    liveOutput.through = undefined;
    console?.close();
    server ??= await serverStarting;
    await server?.close();
    await parts.lease.release(); // already released when the run was driven; not when it never started
  }
}

/** Steering from this process's own terminal: straight to the run's control. */
function localSteering(control: () => RunControl | undefined): Steering {
  const get = () => {
    const c = control();
    if (!c) throw new Error("the run is not started yet");
    return c;
  };
  return {
    intervene: async (message, interrupt, redirect) => {
      await get().intervene({ message, interrupt, redirect, by: "cli" });
    },
    pause: () => get().pause("cli"),
    resume: () => get().resume("cli"),
    cancel: async () => get().cancel("cli"),
  };
}
