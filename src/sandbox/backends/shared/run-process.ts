import { type ChildProcess, spawn } from "node:child_process";
import { constants } from "node:os";
import { StringDecoder } from "node:string_decoder";
import type { OutputChunk } from "../../sandbox.ts";
import { OutputBuffer } from "./output-buffer.ts";

/** Why a process tree is being killed. `exit`: the main process ended; reap what it left behind. */
export type KillReason = "timeout" | "abort" | "exit";

export interface RunProcessOptions {
  file: string;
  args: string[];
  cwd?: string;
  /** The complete environment of the process: nothing is inherited. */
  env: Record<string, string>;
  stdin?: string;
  timeoutMs: number;
  outputBytes: number;
  signal?: AbortSignal;
  onOutput?: (chunk: OutputChunk) => void;
  /** Kills the process tree rooted at `pid` (spawned detached: it leads its own process group). */
  killTree(pid: number, reason: KillReason): void;
  /**
   * A process spawned earlier (`spawnPrepared`) that waits for `start()` before it runs the command:
   * used instead of spawning `file` now. `file`/`args`/`cwd`/`env` are then only for messages.
   */
  prepared?: PreparedProcess;
  /**
   * How long to wait for stdout/stderr to end after the process exited. Orphaned grandchildren can hold
   * the pipes open forever ('close' never fires), so the result must not wait for them.
   */
  exitGraceMs?: number;
}

export interface RunProcessResult {
  /** The exit code, or 128 + signal number when a signal ended the process, like a shell reports it. */
  exitCode: number;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  aborted: boolean;
  /** Set when the process could not be started at all (then exitCode is 127 or 126, like a shell). */
  spawnError?: NodeJS.ErrnoException;
  output: string;
  outputTruncated: boolean;
  durationMs: number;
}

/** A child spawned ahead of time (detached, stdio pipes) that runs its command once `start()` is called. */
export interface PreparedProcess {
  child: ChildProcess;
  start(): void;
}

/**
 * Runs one process in its own process group with a wall timeout, an abort signal, capped interleaved
 * output and an EPIPE-proof stdin. Never rejects: every outcome is a result.
 */
export function runProcess(options: RunProcessOptions): Promise<RunProcessResult> {
  const started = performance.now();
  const output = new OutputBuffer(options.outputBytes, options.onOutput);
  const finish = (
    fields: Pick<RunProcessResult, "exitCode" | "signal" | "timedOut" | "aborted" | "spawnError">,
  ): RunProcessResult => {
    const kept = output.result();
    return {
      ...fields,
      output: kept.output,
      outputTruncated: kept.truncated,
      durationMs: Math.round(performance.now() - started),
    };
  };

  if (options.signal?.aborted) {
    return Promise.resolve(finish({ exitCode: 137, signal: null, timedOut: false, aborted: true }));
  }

  return new Promise((resolve) => {
    const child =
      options.prepared?.child ??
      spawn(options.file, options.args, {
        cwd: options.cwd,
        env: options.env,
        detached: true,
        stdio: ["pipe", "pipe", "pipe"],
      });
    let timedOut = false;
    let aborted = false;
    let exited = false;
    let settled = false;

    const kill = (reason: KillReason) => {
      if (child.pid === undefined) return;
      try {
        options.killTree(child.pid, reason);
      } catch {
        // Already gone: nothing left to kill.
      }
    };
    const timer = setTimeout(() => {
      if (exited) return;
      timedOut = true;
      kill("timeout");
    }, options.timeoutMs);
    const onAbort = () => {
      if (exited || timedOut) return;
      aborted = true;
      kill("abort");
    };
    options.signal?.addEventListener("abort", onAbort, { once: true });

    const cleanup = () => {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
    };

    for (const stream of ["stdout", "stderr"] as const) {
      const decoder = new StringDecoder("utf8");
      const readable = child[stream]!;
      readable.on("data", (data: Buffer) => output.push(stream, decoder.write(data)));
      readable.on("end", () => output.push(stream, decoder.end()));
      readable.on("error", () => {});
    }
    // The process may exit before reading its stdin: EPIPE must not crash the host.
    child.stdin?.on("error", () => {});
    child.stdin?.end(options.stdin ?? "");

    child.on("error", (error: NodeJS.ErrnoException) => {
      if (child.pid !== undefined || settled) return; // errors after a successful spawn: 'exit' decides
      settled = true;
      cleanup();
      const exitCode = error.code === "ENOENT" ? 127 : 126;
      output.push(
        "stderr",
        `${options.file}: ${error.code === "ENOENT" ? "command not found" : error.message}\n`,
      );
      resolve(finish({ exitCode, signal: null, timedOut: false, aborted: false, spawnError: error }));
    });

    child.on("exit", (code, signal) => {
      exited = true;
      cleanup();
      const streamsDone = Promise.all(
        [child.stdout!, child.stderr!].map(
          (stream) =>
            new Promise<void>((done) => {
              if (stream.readableEnded || stream.destroyed) done();
              else stream.once("close", () => done());
            }),
        ),
      );
      const grace = new Promise<void>((done) => setTimeout(done, options.exitGraceMs ?? 100));
      void Promise.race([streamsDone, grace]).then(() => {
        kill("exit");
        child.stdout?.destroy();
        child.stderr?.destroy();
        if (settled) return;
        settled = true;
        const exitCode = code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0);
        resolve(finish({ exitCode, signal, timedOut, aborted }));
      });
    });
    // Everything is listening: a prepared process may run its command now.
    options.prepared?.start();
  });
}
