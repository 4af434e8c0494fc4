import { type ChildProcess, type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { type Browser, CHROMIUM, launchBrowser } from "../helpers/browser.ts";
import { BIN, cliEnv, ROOT } from "../helpers/cli.ts";

export { type Browser, CHROMIUM, launchBrowser };

/**
 * The dashboard's browser suites: Debian's Chromium driven by playwright-core, a real `entourage serve`
 * (the built CLI, as a user runs it) pointed at the fake model server, and a few waits.
 */

export const ARTIFACTS = join(ROOT, "test-artifacts");

/** Why the browser suites cannot run here, or undefined. In CI (ENTOURAGE_CI=1) a missing browser fails. */
export function browserMissing(): string | undefined {
  if (existsSync(CHROMIUM)) return undefined;
  const why = `no Chromium at ${CHROMIUM} (apt-get install chromium)`;
  if (process.env.ENTOURAGE_CI === "1") throw new Error(`${why}: .ci/run installs it`);
  return why;
}

export interface Serve {
  url: string;
  /** The one-time sign-in link the server printed. */
  loginUrl: string;
  port: number;
  child: ChildProcessWithoutNullStreams;
  output: () => string;
  /** SIGTERM, then wait for the exit. */
  stop(): Promise<number | null>;
}

/** `entourage serve` as a subprocess; resolves when it has printed its dashboard link. */
export function startServe(home: string, env: Record<string, string>, port = 0): Promise<Serve> {
  const child = spawn(process.execPath, [BIN, "serve", "--port", String(port)], {
    env: cliEnv(home, env),
    cwd: ROOT,
    stdio: "pipe",
  });
  let out = "";
  child.stdin.on("error", () => {});
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start:\n${out}`)), 30_000);
    const onData = (d: Buffer) => {
      out += d;
      const m = /^dashboard (http:\/\/127\.0\.0\.1:(\d+))(\/\?login=\S+)/m.exec(out);
      if (!m) return;
      clearTimeout(timer);
      resolve({
        url: m[1]!,
        loginUrl: `${m[1]}${m[3]}`,
        port: Number(m[2]),
        child,
        output: () => out,
        stop: async () => {
          if (child.exitCode === null) child.kill("SIGTERM");
          const t = setTimeout(() => child.kill("SIGKILL"), 15_000);
          const code = await exited;
          clearTimeout(t);
          return code;
        },
      });
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", (d) => (out += d));
    exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited (${code}) before printing its dashboard link:\n${out}`));
    });
  });
}

/** The environment that points a server's runs at the fake model server, commands in the subprocess sandbox. */
export function fakeModelEnv(baseUrl: string): Record<string, string> {
  return {
    ENTOURAGE_PROVIDER: "openai-compatible",
    ENTOURAGE_BASE_URL: baseUrl,
    ENTOURAGE_MODEL: "fake-coder",
    ENTOURAGE_SANDBOX: "subprocess",
    ENTOURAGE_MODE: "single",
  };
}

/** A JSON call with the server's token, as a script would make it (not the page). */
export async function apiCall<T = Record<string, unknown>>(
  serve: { url: string },
  home: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const token = readFileSync(join(home, "token"), "utf8").trim();
  const r = await fetch(`${serve.url}${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, body: (text ? JSON.parse(text) : undefined) as T };
}

/** Polls `check` until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => T | Promise<T>,
  timeoutMs = 30_000,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== null && value !== false) return value as NonNullable<T>;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Saves a screenshot under test-artifacts/. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, name);
  await page.screenshot({ path, fullPage: false });
  return path;
}

/** Opens the printed sign-in link: the server sets the session cookie and redirects to the clean URL. */
export async function signIn(page: Page, serve: Serve): Promise<void> {
  await page.goto(serve.loginUrl);
  await page.waitForURL(`${serve.url}/`);
  await page.getByText("Signed in").waitFor();
}

/** An `entourage worker` subprocess and everything it printed so far. */
export interface Worker {
  child: ChildProcess;
  output: () => string;
}

/** `entourage worker --concurrency N` as a subprocess; resolves once it says it takes runs. */
export async function startWorker(env: Record<string, string>, concurrency: number): Promise<Worker> {
  const child = spawn(process.execPath, [BIN, "worker", "--concurrency", String(concurrency)], {
    env,
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  await waitFor("the worker to start", () => /takes runs from/.test(out) || child.exitCode !== null);
  if (child.exitCode !== null) throw new Error(`entourage worker exited ${child.exitCode}:\n${out}`);
  return { child, output: () => out };
}

/** SIGTERM (its runs go back to the queue) and wait for the exit; nothing if it has ended. */
export async function stopWorker(worker: Worker | undefined): Promise<void> {
  if (!worker || worker.child.exitCode !== null || worker.child.signalCode !== null) return;
  const exited = new Promise((resolve) => worker.child.once("exit", resolve));
  worker.child.kill("SIGTERM");
  await exited;
}
