import { mkdirSync, realpathSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { loadConfig } from "../../config/index.ts";
import { UserError } from "../../core/errors.ts";
import type { SandboxBackendName } from "../../sandbox/index.ts";
import { DEFAULT_LIMITS } from "../../sandbox/index.ts";
import { findRepoRoot } from "../../workspace/index.ts";
import { detectMounts, home } from "../compose.ts";
import { reportError } from "../terminal/exit.ts";

/** Parses sizes like 512m, 2g, 1048576 into bytes. */
export function parseSize(value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]?)i?b?$/i.exec(value.trim());
  if (!m) throw new UserError("invalid_size", `"${value}" is not a size; use e.g. 512m or 2g.`);
  const unit = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]!.toLowerCase() as "" | "k" | "m" | "g"];
  return Math.round(Number(m[1]) * unit);
}

export interface SandboxExecFlags {
  sandbox: SandboxBackendName;
  workspace: string;
  memory?: string;
  pids?: number;
  cpuSeconds?: number;
  timeout?: number;
  network?: "off" | "on";
  image?: string;
  runtime?: string;
  /** A checkout whose dependency folders are mounted (and whose project config applies), as in a run. */
  repo?: string;
}

/**
 * `entourage sandbox exec`: one command through the same backend code and limits an agent's
 * run_command uses. Streams the output; exits with the command's code (124 timeout, 137 killed).
 */
export async function sandboxExecCommand(argv: string[], flags: SandboxExecFlags): Promise<number> {
  try {
    if (argv.length === 0)
      throw new UserError(
        "missing_command",
        "Give the command after --, e.g. entourage sandbox exec -- npm test",
      );
    const workspace = resolve(flags.workspace);
    mkdirSync(workspace, { recursive: true });
    if (!statSync(workspace).isDirectory())
      throw new UserError("invalid_workspace", `${workspace} is not a directory.`);
    const { createBackend } = await import("../../sandbox/backends/index.ts");
    const backend = createBackend(flags.sandbox);
    const probe = await backend.probe();
    if (!probe.available)
      throw new UserError(
        "sandbox_unavailable",
        `The ${flags.sandbox} sandbox is not available here: ${probe.reason}`,
      );
    if (!backend.isolated)
      process.stderr.write(`warning: the ${flags.sandbox} backend does not isolate anything.\n`);
    // The user's toolchain always, the checkout's dependency folders with --repo: what a run mounts.
    const repo = flags.repo ? resolve(flags.repo) : undefined;
    const config = loadConfig({ home: home(), repo });
    const network = flags.network ?? "off";
    const mounts = await detectMounts(repo && (await findRepoRoot(repo)), config, network);
    for (const note of mounts.notes) process.stderr.write(`note: ${note}\n`);
    const sandbox = await backend.create({
      workspace: realpathSync(workspace),
      network,
      dependencies: mounts.dependencies,
      toolchain: mounts.toolchain,
      image: flags.image,
      runtime: flags.runtime,
      limits: {
        ...DEFAULT_LIMITS,
        memoryBytes: flags.memory ? parseSize(flags.memory) : DEFAULT_LIMITS.memoryBytes,
        pids: flags.pids ?? DEFAULT_LIMITS.pids,
        cpuSeconds: flags.cpuSeconds ?? DEFAULT_LIMITS.cpuSeconds,
        timeoutMs: (flags.timeout ?? DEFAULT_LIMITS.timeoutMs / 1000) * 1000,
      },
    });
    const controller = new AbortController();
    const onSignal = () => controller.abort();
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    try {
      const result = await sandbox.exec(argv, {
        signal: controller.signal,
        onOutput: (chunk) => (chunk.stream === "stdout" ? process.stdout : process.stderr).write(chunk.text),
      });
      if (result.outputTruncated)
        process.stderr.write("[entourage: output truncated at the sandbox's output cap]\n");
      if (result.timedOut)
        process.stderr.write(
          `[entourage: timed out after ${result.durationMs} ms; the process tree was killed]\n`,
        );
      else if (result.killed)
        process.stderr.write("[entourage: killed (memory or process limit, or interrupted)]\n");
      return result.exitCode;
    } finally {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      await sandbox.destroy();
    }
  } catch (error) {
    return reportError(error);
  }
}
