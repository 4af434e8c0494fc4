import { z } from "zod";
import { AbortedError } from "../../core/index.ts";
import { readPackageText } from "../../core/package-files.ts";
import type { Risk } from "../tool.ts";
import { defineTool } from "../tool.ts";

const DESTRUCTIVE = [
  /\brm\s+(-[a-zA-Z]*[rf][a-zA-Z]*\s+)+/, // rm -rf, rm -r, rm -f
  /\bgit\s+(reset\s+--hard|clean\s+-[a-zA-Z]*f|push\s+.*(--force|-f\b))/,
  /\b(mkfs|dd\s+if=|shred|truncate\s+-s\s*0)\b/,
  /\bchmod\s+-R\b|\bchown\s+-R\b/,
  /(^|[;&|]\s*)>\s*\S/, // truncating redirection at the start of a command
];
const NETWORK = [
  /\b(curl|wget|ssh|scp|rsync|nc|telnet|ftp)\b/,
  /\b(npm|pnpm|yarn|bun)\s+(install|i|add|ci|update|publish)\b/,
  /\bpip3?\s+install\b|\buv\s+(pip|add|sync)\b|\bpoetry\s+(add|install)\b/,
  /\bgit\s+(clone|fetch|pull|push)\b|\bcargo\s+(install|update|fetch)\b|\bgo\s+get\b|\bapt(-get)?\s+install\b/,
];

/** Risk of a shell command: destructive and network patterns first, anything else is execute. */
export function commandRisk(command: string): Risk {
  if (DESTRUCTIVE.some((re) => re.test(command))) return "destructive";
  if (NETWORK.some((re) => re.test(command))) return "network";
  return "execute";
}

/**
 * What a failed fork prints (EAGAIN at the process cap): bash, dash, Python, Node, Go and Rust's words for it.
 * Every backend's cap makes fork fail rather than kill, so the command's own output is where it shows.
 */
const FORK_FAILED =
  /fork: (retry: )?Resource temporarily unavailable|Cannot fork|can't fork|BlockingIOError: \[Errno 11\]|spawn EAGAIN|fork\/exec .*resource temporarily unavailable|failed to spawn thread|Resource temporarily unavailable \(os error 11\)/i;

export const runCommandTool = defineTool({
  name: "run_command",
  description: readPackageText("tools/builtin/run-command.md"),
  input: z.object({
    command: z.string().min(1).describe("The bash command line to run"),
    timeout_seconds: z
      .number()
      .int()
      .min(1)
      .max(3600)
      .optional()
      .describe(
        "Wall-clock limit; the whole process tree is killed when it expires (default: the run's limit)",
      ),
    cwd: z.string().optional().describe("Directory to run in, relative to the workspace root"),
  }),
  accepts: {
    aliases: {
      command: ["cmd", "script"],
      cwd: ["workdir", "working_directory", "dir", "directory"],
      timeout_seconds: ["timeout_s"],
    },
    commands: ["command"],
    paths: ["cwd"],
    refused: {
      env: "Commands get the run's environment; set variables inside the command (FOO=bar cmd).",
      stdin: "Commands get no input; write it to a file and redirect (cmd < file), or use a here-document.",
    },
  },
  risk: (input) => commandRisk(input.command),
  async execute(input, ctx) {
    if (input.cwd !== undefined) ctx.workspace.resolve(input.cwd); // refuses escapes with an actionable error
    const result = await ctx.sandbox.exec(["bash", "-c", input.command], {
      cwd: input.cwd,
      timeoutMs: input.timeout_seconds ? input.timeout_seconds * 1000 : undefined,
      signal: ctx.signal,
      onOutput: (chunk) => ctx.onOutput?.(chunk.text, chunk.stream),
    });
    // Killed because the run was interrupted: no result to report; resume tells the model it was cut off.
    if (ctx.signal.aborted) throw new AbortedError("the command was interrupted");
    const quota = result.diskQuota;
    const mb = (bytes: number) => `${Math.round(bytes / 1024 / 1024)} MB`;
    const status = quota
      ? `${quota.stopped ? `was stopped (exit ${result.exitCode})` : `exit code ${result.exitCode}`}: the workspace reached its disk quota of ${mb(quota.limitBytes)} (${mb(quota.usedBytes)} in use). Delete what you do not need (large generated files, build output) before going on; the next command that adds to it is stopped again`
      : result.timedOut
        ? `timed out after ${Math.round(result.durationMs / 1000)} s and was killed (exit ${result.exitCode})`
        : result.killed
          ? `was killed (exit ${result.exitCode}; out of memory or a process limit)`
          : `exit code ${result.exitCode}`;
    const pids = ctx.sandbox.spec.limits.pids;
    const forkFailed = pids !== undefined && FORK_FAILED.test(result.output);
    const processNote = forkFailed
      ? `\n[a fork failed: the sandbox allows at most ${pids} processes and threads at once (maxProcesses); end background processes you started, or run fewer in parallel (e.g. -j2, --maxWorkers=2)]`
      : "";
    const dropped = result.outputTruncated
      ? "\n[the sandbox dropped part of the output: it exceeded the output cap]"
      : "";
    const body = result.output.length > 0 ? result.output : "(no output)";
    return {
      output: `$ ${input.command}\n${status} · ${result.durationMs} ms\n${body}${dropped}${processNote}`,
      isError: result.exitCode !== 0 || quota !== undefined,
      metadata: {
        exitCode: result.exitCode,
        timedOut: result.timedOut,
        killed: result.killed,
        durationMs: result.durationMs,
        ...(quota ? { diskQuota: quota } : {}),
        ...(forkFailed ? { processLimit: pids } : {}),
      },
      changed: "unknown",
    };
  },
});
