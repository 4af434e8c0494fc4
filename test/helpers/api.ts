import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { afterEach, beforeEach } from "node:test";
import type { FakeTurn } from "../fake-llm/scenario.ts";
import { type FakeModelServer, startFakeModelServer } from "../fake-llm/server.ts";
import { BIN, type CliResult, cliEnv, fakeModelFlags, makeSampleRepo, removeDir, tempDir } from "./cli.ts";

/**
 * Helpers for the API suites: a CLI process whose API URL is read from its output, a JSON client, and
 * an SSE reader written independently of the code under test (it parses the wire format itself).
 */

export interface LiveCli {
  child: ChildProcessWithoutNullStreams;
  /** The API base URL the CLI printed. */
  url: string;
  runId: string;
  stdout: () => string;
  stderr: () => string;
  /** Resolves when the process exits. */
  done: Promise<CliResult>;
  write: (text: string) => void;
}

/**
 * Spawns the built CLI and resolves once it has printed its run id and API URL (`api http://…`), or
 * rejects if it exits first. `urlPattern` finds the URL (default: the run's own server line).
 */
export function startCli(
  args: string[],
  options: { env: Record<string, string>; cwd?: string; timeoutMs?: number; urlPattern?: RegExp },
): Promise<LiveCli> {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: options.env,
    cwd: options.cwd,
    stdio: "pipe",
  });
  let stdout = "";
  let stderr = "";
  child.stdin.on("error", () => {});
  const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 120_000);
  const done = new Promise<CliResult>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
  const urlPattern = options.urlPattern ?? /^api (http:\/\/127\.0\.0\.1:\d+)/m;
  return new Promise((resolve, reject) => {
    const check = () => {
      const url = urlPattern.exec(stdout)?.[1] ?? urlPattern.exec(stderr)?.[1];
      const runId = /\brun (run_\w+)/.exec(stdout)?.[1] ?? /"runId":"(run_\w+)"/.exec(stdout)?.[1];
      if (url && (runId || options.urlPattern)) {
        child.stdout.off("data", check);
        child.stderr.off("data", check);
        resolve({
          child,
          url,
          runId: runId ?? "",
          stdout: () => stdout,
          stderr: () => stderr,
          done,
          write: (text) => child.stdin.write(text),
        });
      }
    };
    child.stdout.on("data", (d) => {
      stdout += d;
      check();
    });
    child.stderr.on("data", (d) => {
      stderr += d;
      check();
    });
    done.then((r) =>
      reject(new Error(`the CLI exited (${r.code}) before printing its API URL:\n${r.stdout}\n${r.stderr}`)),
    );
  });
}

export async function api<T = Record<string, unknown>>(
  url: string,
  path: string,
  init: { method?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: T }> {
  const response = await fetch(`${url}${path}`, {
    method: init.method ?? (init.body === undefined ? "GET" : "POST"),
    headers: {
      ...(init.body === undefined ? {} : { "content-type": "application/json" }),
      ...init.headers,
    },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T };
}

export interface WireEvent {
  id: string;
  runId: string;
  seq: number;
  type: string;
  agentId?: string;
  data: Record<string, unknown>;
}

export interface SseRecord {
  /** The SSE `id:` field. */
  id: string;
  event: WireEvent;
}

/**
 * Reads an SSE stream until `until` returns true for a message (inclusive), then disconnects. Each
 * message's `id` and parsed JSON `data` are returned in order.
 */
export async function readSse(
  url: string,
  options: { lastEventId?: string; until: (record: SseRecord) => boolean; timeoutMs?: number },
): Promise<SseRecord[]> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), options.timeoutMs ?? 60_000);
  const headers: Record<string, string> = { accept: "text/event-stream" };
  if (options.lastEventId !== undefined) headers["last-event-id"] = options.lastEventId;
  const records: SseRecord[] = [];
  try {
    const response = await fetch(url, { headers, signal: controller.signal });
    if (response.status !== 200)
      throw new Error(`SSE ${url}: HTTP ${response.status} ${await response.text()}`);
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return records;
      buffer += decoder.decode(value, { stream: true });
      let end = buffer.indexOf("\n\n");
      while (end >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        end = buffer.indexOf("\n\n");
        const lines = block.split("\n");
        const data = lines.filter((l) => l.startsWith("data: ")).map((l) => l.slice(6));
        const id = lines.find((l) => l.startsWith("id: "))?.slice(4);
        if (data.length === 0 || id === undefined) continue;
        const record = { id, event: JSON.parse(data.join("\n")) as WireEvent };
        records.push(record);
        if (options.until(record)) {
          controller.abort();
          return records;
        }
      }
    }
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
}

/** Polls `probe` until it returns a value (not undefined), or fails after `timeoutMs`. */
export async function eventually<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  what: string,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface PendingApproval {
  approvalId: string;
  tool: string;
  args: Record<string, unknown>;
}

/** Waits until the run has an approval waiting (optionally for `tool`), and returns it. */
export function waitForApproval(url: string, runId: string, tool?: string): Promise<PendingApproval> {
  return eventually(
    async () => {
      const { body } = await api<{ pendingApprovals: PendingApproval[] }>(url, `/runs/${runId}`);
      return body.pendingApprovals.find((p) => tool === undefined || p.tool === tool);
    },
    `an approval${tool ? ` for ${tool}` : ""} in ${runId}`,
  );
}

/**
 * A suite's live CLI run against a fake model server, with a fresh home and sample repo per test:
 * `run(turns, extra)` starts `entourage run` (single mode, subprocess sandbox) and returns it while live.
 * Registers its own beforeEach/afterEach.
 */
export function liveRunFixture() {
  const state: { home: string; repo: string; server?: FakeModelServer; cli?: LiveCli } = {
    home: "",
    repo: "",
  };
  beforeEach(() => {
    state.home = tempDir("home");
    state.repo = makeSampleRepo();
  });
  afterEach(async () => {
    if (state.cli && state.cli.child.exitCode === null) state.cli.child.kill("SIGKILL");
    await state.server?.close();
    state.server = undefined;
    state.cli = undefined;
    removeDir(state.home);
    removeDir(state.repo);
  });
  return {
    get home() {
      return state.home;
    },
    get repo() {
      return state.repo;
    },
    /** The fake model server of the current test (after `run`). */
    get server(): FakeModelServer {
      if (!state.server) throw new Error("call run() first");
      return state.server;
    },
    async run(turns: FakeTurn[], extra: string[] = []): Promise<LiveCli> {
      state.server = await startFakeModelServer({ scenario: turns });
      state.cli = await startCli(
        ["run", "Check the project", "--repo", state.repo, ...fakeModelFlags(state.server)].concat([
          "--mode",
          "single",
          "--sandbox",
          "subprocess",
          ...extra,
        ]),
        { env: cliEnv(state.home) },
      );
      return state.cli;
    },
  };
}
