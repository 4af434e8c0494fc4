import { type ChildProcessWithoutNullStreams, execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";

export const ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
export const BIN = join(ROOT, "bin", "entourage.js");

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A minimal environment for the CLI under test: no API keys, a private ENTOURAGE_HOME. */
export function cliEnv(home: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: home,
    ENTOURAGE_HOME: home,
    NO_COLOR: "1",
    ...extra,
  };
}

/** Runs the built CLI (bin/entourage.js → dist/) as a subprocess, the way a user does. */
export function runCli(
  args: string[],
  options: { env: Record<string, string>; cwd?: string; input?: string; timeoutMs?: number },
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: options.env,
      cwd: options.cwd ?? ROOT,
      stdio: "pipe",
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.stdin.on("error", () => {});
    child.stdin.end(options.input ?? "");
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 60_000);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/**
 * The built CLI on a pseudo-terminal (util-linux `script`) with its stdin open for typing, for tests that
 * read the screen while they type; SIGKILLed after 60 s, or by `stop`.
 */
export function cliInScript(
  args: string[],
  env: Record<string, string>,
  onOutput: (chunk: Buffer) => void,
): { child: ChildProcessWithoutNullStreams; done: Promise<number | null>; stop: () => void } {
  const command = [process.execPath, BIN, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
  const child = spawn("script", ["-qfec", command, "/dev/null"], { env, stdio: "pipe" });
  child.stdout.on("data", onOutput);
  child.stderr.on("data", onOutput);
  const kill = setTimeout(() => child.kill("SIGKILL"), 60_000);
  const done = new Promise<number | null>((resolve) => child.on("close", resolve));
  return {
    child,
    done,
    stop: () => {
      clearTimeout(kill);
      if (child.exitCode === null) child.kill("SIGKILL");
    },
  };
}

/** Runs the built CLI on a pseudo-terminal (python3's pty), typing `answers` when their prompts appear. */
export function runOnTerminal(
  args: string[],
  answers: [prompt: string, answer: string][],
  env: Record<string, string>,
  cwd?: string,
): Promise<{ code: number | null; transcript: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      "python3",
      [join(ROOT, "test", "helpers", "pty-run.py"), JSON.stringify(answers), process.execPath, BIN, ...args],
      { env: { ...env, TERM: "dumb" }, stdio: ["ignore", "pipe", "pipe"], cwd },
    );
    let transcript = "";
    child.stdout.on("data", (d) => (transcript += d));
    child.stderr.on("data", (d) => (transcript += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, transcript }));
  });
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `entourage-${prefix}-`));
}

/** A git repo made from demo/sample-repo (the date bug), committed, in a temp dir. */
export function makeSampleRepo(): string {
  const dir = tempDir("repo");
  cpSync(join(ROOT, "demo", "sample-repo"), dir, { recursive: true });
  const git = (...a: string[]) =>
    execFileSync("git", a, { cwd: dir, stdio: "pipe", env: { ...process.env, GIT_CONFIG_NOSYSTEM: "1" } });
  git("init", "-q", "-b", "main");
  git("-c", "user.name=t", "-c", "user.email=t@t", "add", "-A");
  git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "initial");
  return dir;
}

/** Hash of every file under `dir` (including .git), to prove a checkout was not touched. */
export function treeHash(dir: string): string {
  const hash = createHash("sha256");
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true }).sort((a, b) =>
      a.name.localeCompare(b.name),
    )) {
      const p = join(d, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (entry.isFile()) hash.update(relative(dir, p)).update(readFileSync(p));
    }
  };
  walk(dir);
  return hash.digest("hex");
}

/**
 * Hash of a checkout's working tree as a user sees it: every path outside `.git` with its kind, permission
 * bits and bytes (a symlink's target; a directory, empty or not). Two trees hash alike only if `ls -lR`
 * and every file's content agree.
 */
export function worktreeHash(dir: string): string {
  const hash = createHash("sha256");
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      if (d === dir && name === ".git") continue;
      const p = join(d, name);
      const info = lstatSync(p);
      hash.update(`${relative(dir, p)}\0${info.mode.toString(8)}\0`);
      if (info.isSymbolicLink()) hash.update(readlinkSync(p));
      else if (info.isDirectory()) walk(p);
      else hash.update(readFileSync(p));
      hash.update("\0");
    }
  };
  walk(dir);
  return hash.digest("hex");
}

/** Temporary files an apply would leave behind in a checkout (`.NAME.entourage-….tmp`), relative paths. */
export function strayTempFiles(dir: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[]).filter((p) => /\.entourage-[^/]*\.tmp$/.test(p));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Parses JSONL output into objects. */
export function jsonLines(text: string): Record<string, unknown>[] {
  return text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Flags that point the CLI at a fake model server (OpenAI wire protocol). */
export function fakeModelFlags(server: { baseUrl: string }): string[] {
  return ["--provider", "openai-compatible", "--base-url", server.baseUrl, "--model", "fake-coder"];
}

/** The same, approving every call (`--yes`). */
export function fakeModel(server: { baseUrl: string }): string[] {
  return [...fakeModelFlags(server), "--yes"];
}
