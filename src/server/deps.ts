import type { Clock, IdGenerator } from "../core/index.ts";
import type { RunControl } from "../orchestrator/index.ts";
import type { EventStore } from "../store/index.ts";
import type { LoginLimitOptions } from "./login-limit.ts";
import type { CreateRunInput, ResumeInput } from "./schemas.ts";
import type { LoginCodes } from "./session.ts";

/** Starts runs in the server's process: the same composition the CLI's `run` does. */
export interface Launcher {
  /** Composes a run (config, model, sandbox, workspace copy), logs `run.created`, starts driving it. */
  start(input: CreateRunInput): Promise<string>;
  /**
   * Drives an existing run that nobody drives (a fork, a rewound or interrupted run) in this process.
   * Resolves once the run is registered as live.
   */
  continue(runId: string, model?: ResumeInput): Promise<void>;
}

/** What the API needs, injected so tests can give it a memory store, fake controls and a fixed clock. */
export interface AppDeps {
  store: EventStore;
  /** Runs driven by this process right now; the steering routes act on these. */
  runs: Map<string, RunControl>;
  /** Absent when the server belongs to one CLI run: POST /runs is then refused with 409. */
  launcher?: Launcher;
  clock: Clock;
  ids: IdGenerator;
  token: string;
  /** Where a forked run's workspace goes (ENTOURAGE_HOME/runs/<id>/workspace). */
  workspaceDir: (runId: string) => string;
  /** Where apply journals live (ENTOURAGE_HOME/applies): an interrupted apply is found there. */
  applyJournals: string;
  options: {
    /** The address the server listens on; decides whether the token is required for reads. */
    host: string;
    requireToken?: boolean;
    /** Largest request body accepted, in bytes (default 1 MiB). */
    bodyLimit?: number;
    /** SSE keep-alive comment interval (default 15 s). */
    keepAliveMs?: number;
    version?: string;
    /** How failed sign-ins are limited per client address (defaults: `LOGIN_LIMIT_DEFAULTS`). */
    loginLimit?: Omit<LoginLimitOptions, "now">;
    /** Where unexpected errors go (default: stderr). */
    log?: (error: unknown) => void;
    /** The dashboard's one-time sign-in codes, when URLs carrying them were printed before the app was made. */
    loginCodes?: LoginCodes;
  };
}
