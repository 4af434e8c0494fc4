/**
 * A sandbox container that died under a command, started again.
 *
 * With runc the memory and pids limits act on the commands: the kernel kills one process (137) and the
 * container lives on. With runsc (gVisor) the container's cgroups hold the gVisor kernel itself, so a command
 * that takes the sandbox over its memory limit gets the Sentry OOM-killed by the host, and the whole container
 * stops. The workspace is a host folder (or, on a remote engine, re-sent before the next command), so the
 * backend starts the same container again and tells the command's caller what happened: its exit is 137
 * and the output says the sandbox was restarted with /tmp and HOME empty.
 */

import type Docker from "dockerode";
import { errorMessage } from "../../../core/index.ts";

/** Why the container is not running (`undefined`: it is), for the note. */
async function deathOf(container: Docker.Container): Promise<string | undefined> {
  const info = await container.inspect();
  if (info.State.Running) return undefined;
  if (info.State.OOMKilled) return "out of memory";
  return `stopped (exit ${info.State.ExitCode}${info.State.Error ? `: ${info.State.Error}` : ""})`;
}

/**
 * When the container is no longer running: starts it again and returns the note for the command's output
 * (`undefined` when it was running). Throws when it cannot be started again.
 */
export async function reviveIfDead(
  container: Docker.Container,
  limits: { memoryBytes?: number; runtime?: string },
): Promise<string | undefined> {
  let why: string | undefined;
  try {
    why = await deathOf(container);
  } catch (error) {
    throw new Error(`cannot inspect the sandbox container: ${errorMessage(error)}`);
  }
  if (why === undefined) return undefined;
  await container.start();
  const mb = limits.memoryBytes === undefined ? undefined : Math.round(limits.memoryBytes / 1024 ** 2);
  const whose =
    why === "out of memory" && mb !== undefined
      ? ` went over the sandbox's memory limit of ${mb} MB${limits.runtime ? ` (${limits.runtime}: gVisor's own kernel counts in it)` : ""}`
      : ` ${why}`;
  return `\n[entourage: the sandbox${whose}; it was killed with every process in it and started again: the workspace is as the command left it, /tmp and HOME are empty]\n`;
}

/**
 * Settles when the container stops (never, when the engine cannot say or `signal` aborts the request: the
 * sandbox's destroy does, so no request to the engine outlives it).
 */
export function whenStopped(container: Docker.Container, signal: AbortSignal): Promise<void> {
  // dockerode takes an abort signal here; its types do not say so.
  const wait = container.wait as unknown as (opts: {
    condition: string;
    abortSignal: AbortSignal;
  }) => Promise<unknown>;
  return wait.call(container, { condition: "not-running", abortSignal: signal }).then(
    () => {},
    () => new Promise<void>(() => {}),
  );
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
