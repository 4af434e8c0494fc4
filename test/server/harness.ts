import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type EventData, sequentialIds } from "../../src/core/index.ts";
import { type ApprovalRequest, RunControl, RunEmitter } from "../../src/orchestrator/index.ts";
import { type App, type AppDeps, createApp, type Launcher } from "../../src/server/index.ts";
import type { CreateRunInput } from "../../src/server/schemas.ts";
import { createMemoryEventStore, type EventStore } from "../../src/store/index.ts";

export const TOKEN = "test-token-0123456789abcdef";

export function createdData(overrides: Partial<EventData<"run.created">> = {}): EventData<"run.created"> {
  return {
    task: "Fix the date helper",
    repo: "/nonexistent/repo",
    workspace: "/nonexistent/workspace",
    mode: "single",
    model: { provider: "openai-compatible", model: "fake" },
    sandbox: { backend: "subprocess", isolated: false, network: "off" },
    budget: { maxSteps: 10 },
    approval: "ask-risky",
    ...overrides,
  };
}

/** A launcher that records what it was asked and creates a minimal run in the store. */
export class RecordingLauncher implements Launcher {
  readonly started: CreateRunInput[] = [];
  readonly continued: string[] = [];
  private readonly store: EventStore;
  constructor(store: EventStore) {
    this.store = store;
  }
  async start(input: CreateRunInput): Promise<string> {
    this.started.push(input);
    const runId = `run_started${this.started.length}`;
    await this.store.append(runId, [{ type: "run.created", data: createdData({ task: input.task }) }]);
    return runId;
  }
  async continue(runId: string): Promise<void> {
    this.continued.push(runId);
  }
}

export interface Harness {
  app: App;
  store: EventStore;
  runs: Map<string, RunControl>;
  launcher: RecordingLauncher;
  /** Adds a run to the store; with `live`, a RunControl for it is registered (as a driving process would). */
  addRun(
    runId: string,
    options?: { live?: boolean; data?: Partial<EventData<"run.created">> },
  ): Promise<RunControl>;
  /** Makes the run's control wait for an answer, as the engine does; resolves with the answer. */
  ask(
    control: RunControl,
    request?: Partial<ApprovalRequest>,
  ): Promise<Awaited<ReturnType<RunControl["approver"]>>>;
  request(path: string, init?: RequestInit): Promise<Response>;
}

export function createHarness(options: Partial<AppDeps["options"]> & { launcher?: boolean } = {}): Harness {
  const store = createMemoryEventStore();
  const runs = new Map<string, RunControl>();
  const launcher = new RecordingLauncher(store);
  const ids = sequentialIds();
  const errors: unknown[] = [];
  const app = createApp({
    store,
    runs,
    launcher: options.launcher === false ? undefined : launcher,
    clock: () => 1_700_000_000_000,
    ids,
    token: TOKEN,
    workspaceDir: (id) => join(tmpdir(), "entourage-test-forks", id, "workspace"),
    applyJournals: join(tmpdir(), "entourage-test-applies"),
    options: { host: "127.0.0.1", log: (e) => errors.push(e), ...options },
  });
  let approvals = 0;
  return {
    app,
    store,
    runs,
    launcher,
    async addRun(runId, o = {}) {
      await store.append(runId, [
        { type: "run.created", data: createdData(o.data) },
        { type: "run.status", data: { status: o.live ? "running" : "queued" } },
      ]);
      const control = new RunControl(runId, { ids });
      control.attach(new RunEmitter(store, runId));
      control.hasRemoteClients = true;
      if (o.live) runs.set(runId, control);
      return control;
    },
    ask(control, request = {}) {
      return control.approver(
        {
          approvalId: `appr_${++approvals}`,
          agentId: "agent_1",
          tool: "run_command",
          args: { command: "npm test" },
          risk: "execute",
          reason: "approval mode ask-risky: execute calls are asked",
          ...request,
        },
        new AbortController().signal,
      );
    },
    request: async (path, init) => app.request(path, init),
  };
}

export function post(body: unknown, headers: Record<string, string> = {}): RequestInit {
  return {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  };
}

/** A committed git repo in a temp dir with one file, for the workspace routes. */
export function makeRepo(): string {
  const dir = mkdtempSync(join(tmpdir(), "entourage-api-repo-"));
  writeFileSync(join(dir, "a.txt"), "one\n");
  const git = (...a: string[]) => execFileSync("git", a, { cwd: dir, stdio: "pipe" });
  git("init", "-q");
  git("-c", "user.name=t", "-c", "user.email=t@t", "add", "-A");
  git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "initial");
  return dir;
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
