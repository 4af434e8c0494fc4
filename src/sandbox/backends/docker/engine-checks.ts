/**
 * What the docker backend asks of the engine around a sandbox: how to get a missing image, whether an OCI
 * runtime is registered, leftovers of dead Entourage processes, an exec's exit code.
 */

import { readFileSync } from "node:fs";
import type Docker from "dockerode";
import { processHost, UserError } from "../../../core/index.ts";
import { LABEL_OWNER_CONTAINER, LABEL_OWNER_HOST, LABEL_OWNER_PID, LABEL_SANDBOX } from "./client.ts";
import { IMAGE_LANGUAGES, IMAGE_RECIPE_NAMES, IMAGE_RECIPES } from "./image-recipes.ts";

/** How to get `image`: the build command of its recipe, or a hint for an image of the user's own. */
export function buildHint(image: string): string {
  const recipe = IMAGE_RECIPE_NAMES.find((name) => IMAGE_RECIPES[name].image === image);
  if (recipe === "base") return "build it with `entourage sandbox build-image`";
  if (recipe) return `build it with \`entourage sandbox build-image ${recipe}\``;
  return `build or load it into the Docker engine (there is no registry), or use one of Entourage's: --image ${IMAGE_LANGUAGES.join("|")} after \`entourage sandbox build-image all\``;
}

export async function checkRuntime(docker: Docker, runtime: string): Promise<void> {
  const info = (await docker.info()) as { Runtimes?: Record<string, unknown> };
  const known = Object.keys(info.Runtimes ?? {});
  if (!known.includes(runtime)) {
    throw new UserError(
      "sandbox_runtime",
      `The OCI runtime "${runtime}" is not registered with the Docker daemon (it has: ${known.join(", ") || "none"}). ` +
        `Install it (for gVisor: the runsc package or binary) and register it in /etc/docker/daemon.json ("runtimes": {"${runtime}": {"path": "/usr/bin/${runtime}"}}), then restart dockerd.`,
    );
  }
}

/**
 * Removes sandbox containers whose Entourage process is gone: left by a crash or a kill -9. On this host, by pid;
 * when their Entourage ran in a container of the same engine (a compose worker), by that container: gone, stopped,
 * or started again since the sandbox was made (a restart is a new process, the old one's sandboxes are orphans).
 */
export async function pruneStaleSandboxes(docker: Docker): Promise<number> {
  return (await pruneByPid(docker)) + (await pruneByOwnerContainer(docker));
}

async function pruneByOwnerContainer(docker: Docker): Promise<number> {
  const containers = await docker.listContainers({
    all: true,
    filters: { label: [`${LABEL_SANDBOX}=container`, LABEL_OWNER_CONTAINER] },
  });
  const mine = ownContainerId();
  let removed = 0;
  for (const info of containers) {
    const owner = info.Labels[LABEL_OWNER_CONTAINER];
    if (!owner || owner === mine) continue;
    const state = await docker
      .getContainer(owner)
      .inspect()
      .then((o) => o.State)
      .catch(() => undefined);
    const startedAt = state ? Date.parse(state.StartedAt) / 1000 : Number.POSITIVE_INFINITY;
    if (state?.Running && startedAt <= info.Created) continue;
    await docker
      .getContainer(info.Id)
      .remove({ force: true })
      .then(() => removed++)
      .catch(() => {});
  }
  return removed;
}

let ownContainer: string | null | undefined;

/**
 * The id of the Docker container this process runs in, when it does (its /etc/hostname is a file of the
 * engine's `containers/<id>/` folder), else null.
 */
export function ownContainerId(): string | null {
  if (ownContainer !== undefined) return ownContainer;
  try {
    const mounts = readFileSync("/proc/self/mountinfo", "utf8");
    ownContainer = /\/containers\/([0-9a-f]{64})\/hostname /.exec(mounts)?.[1] ?? null;
  } catch {
    ownContainer = null;
  }
  return ownContainer;
}

async function pruneByPid(docker: Docker): Promise<number> {
  const containers = await docker.listContainers({
    all: true,
    filters: { label: [`${LABEL_SANDBOX}=container`, `${LABEL_OWNER_HOST}=${processHost()}`] },
  });
  let removed = 0;
  for (const info of containers) {
    const pid = Number(info.Labels[LABEL_OWNER_PID]);
    if (!Number.isInteger(pid) || pid <= 0 || processExists(pid)) continue;
    await docker
      .getContainer(info.Id)
      .remove({ force: true })
      .then(() => removed++)
      .catch(() => {});
  }
  return removed;
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The exec's exit code once Docker has recorded it (the stream may end a moment before). */
export async function exitCodeOf(exec: Docker.Exec): Promise<number | undefined> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const info = await exec.inspect();
    if (!info.Running && info.ExitCode !== null && info.ExitCode !== undefined) return info.ExitCode;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return undefined;
}
