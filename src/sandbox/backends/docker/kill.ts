import type { Duplex } from "node:stream";
import type Docker from "dockerode";
import { exitCodeOf } from "./engine-checks.ts";
import { killCommand, REAPER_SIGNAL } from "./exec-script.ts";

/** How long a killed command's stream may take to end before the result is returned anyway. */
export const KILL_GRACE_MS = 3000;

/** `promise`, or `fallback` when it has not settled within KILL_GRACE_MS. */
function withinGrace<T>(promise: Promise<T>, fallback: T): Promise<T> {
  return Promise.race([
    promise,
    new Promise<T>((resolve) => setTimeout(() => resolve(fallback), KILL_GRACE_MS).unref()),
  ]);
}

export interface KillTarget {
  container: Docker.Container;
  /** The user the kill exec runs as (the commands' user: it may signal them, not the keeper). */
  user: string;
  /** `exec`: only command `id`'s processes; `all`: every process but the keeper. */
  scope: "exec" | "all";
  /** True once the sandbox is being destroyed: the container goes anyway. */
  destroyed: () => boolean;
}

/**
 * Runs the kill exec for command `id`; when it cannot start or does not end within KILL_GRACE_MS (a fork
 * bomb at the pids limit leaves no slot for it), signals the keeper to kill every process of the
 * container instead. Never rejects (a daemon that does not answer must not hang the caller).
 */
export async function killInContainer(id: string, target: KillTarget): Promise<void> {
  // The kill exec's connection: destroyed when the exec does not end in time (a hijacked socket left open
  // would keep this process alive after every sandbox is gone).
  let stream: Duplex | undefined;
  let gaveUp = false;
  const attempt = (async () => {
    const exec = await target.container.exec({
      Cmd: killCommand(id, target.scope),
      User: target.user,
      AttachStdout: true,
      AttachStderr: true,
    });
    const started = (await exec.start({ hijack: true, stdin: false })) as Duplex;
    stream = started;
    if (gaveUp) started.destroy(); // started after the grace: nobody waits for it
    await new Promise<void>((resolve) => {
      started.on("end", resolve);
      started.on("close", resolve);
      started.on("error", () => resolve());
      started.resume();
      started.end();
    });
    started.destroy();
    return (await exitCodeOf(exec)) === 0;
  })().catch(() => false);
  const killed = await withinGrace(attempt, false);
  if (!killed) {
    gaveUp = true;
    stream?.destroy();
  }
  if (killed || target.destroyed()) return;
  // Every process of the container goes, other commands' included: it has no slot left for anything else.
  await withinGrace(
    target.container.kill({ signal: REAPER_SIGNAL }).then(
      () => true,
      () => false, // The container is gone (destroy) or stopping: nothing left to kill.
    ),
    false,
  );
}
