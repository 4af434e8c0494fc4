/**
 * The concrete sandbox backends, for the composition root only (the CLI and the server pick one; the
 * orchestrator and tools see the `Sandbox` port). `selectDefaultBackend()` never returns `subprocess`:
 * running without isolation is always an explicit choice.
 */
import { UserError } from "../../core/index.ts";
import type { SandboxBackend, SandboxBackendName } from "../sandbox.ts";
import { type BwrapBackendOptions, createBwrapBackend } from "./bwrap/bwrap-backend.ts";
import { createDockerBackend, type DockerBackendOptions } from "./docker/docker-backend.ts";
import { createGvisorBackend, type GvisorBackendOptions } from "./docker/gvisor-backend.ts";
import { createSubprocessBackend, type SubprocessBackendOptions } from "./subprocess/subprocess-backend.ts";

export type { BwrapBackendOptions } from "./bwrap/bwrap-backend.ts";
export { createBwrapBackend } from "./bwrap/bwrap-backend.ts";
export type { DockerBackendOptions } from "./docker/docker-backend.ts";
export { createDockerBackend } from "./docker/docker-backend.ts";
export type { GvisorBackendOptions } from "./docker/gvisor-backend.ts";
export { createGvisorBackend, GVISOR_RUNTIME } from "./docker/gvisor-backend.ts";
export type { SubprocessBackendOptions } from "./subprocess/subprocess-backend.ts";
export { createSubprocessBackend } from "./subprocess/subprocess-backend.ts";

export interface BackendOptions {
  bwrap?: BwrapBackendOptions;
  docker?: DockerBackendOptions;
  gvisor?: GvisorBackendOptions;
  subprocess?: SubprocessBackendOptions;
}

/** Factories of the sandbox backends. */
export const backends: Partial<Record<SandboxBackendName, (options?: BackendOptions) => SandboxBackend>> = {
  subprocess: (options) => createSubprocessBackend(options?.subprocess),
  bwrap: (options) => createBwrapBackend(options?.bwrap),
  docker: (options) => createDockerBackend(options?.docker),
  gvisor: (options) => createGvisorBackend(options?.gvisor),
};

/** The backend called `name`; a UserError naming the ones that exist when there is none. */
export function createBackend(name: SandboxBackendName, options?: BackendOptions): SandboxBackend {
  const factory = backends[name];
  if (!factory) {
    throw new UserError(
      "sandbox_backend_unknown",
      `The sandbox backend "${name}" is not available in this version; use one of: ${Object.keys(backends).join(", ")}.`,
    );
  }
  return factory(options);
}

/**
 * The isolating backend to use when the user named none: bwrap when its probe succeeds, else docker, else `null` with
 * every reason (so the caller can tell the user what to install). Never subprocess.
 */
export async function selectDefaultBackend(
  options?: BackendOptions,
): Promise<{ backend: SandboxBackend | null; reasons: string[] }> {
  const reasons: string[] = [];
  for (const name of ["bwrap", "docker"] as const) {
    const backend = createBackend(name, options);
    const probe = await backend.probe();
    if (probe.available) return { backend, reasons };
    reasons.push(`${name}: ${probe.reason ?? "unavailable"}`);
  }
  return { backend: null, reasons };
}
