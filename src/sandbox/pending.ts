import type { SandboxBackendName } from "../core/vocabulary.ts";
import type { ExecOptions, ExecResult, Sandbox, SandboxSpec } from "./sandbox.ts";

/**
 * A sandbox still being made. A run starts — its first model request goes out — while the backend sets the
 * sandbox up (bwrap's session and the workspace's chown to the sandbox's uid, a container); the first command
 * waits for it, and most first requests take longer than the set-up. `ready` is the made sandbox, or the
 * error that kept it from being made (the driver stops the run with it). See docs/architecture.md, "Start-up".
 */
export class PendingSandbox implements Sandbox {
  readonly backend: SandboxBackendName;
  readonly isolated: boolean;
  readonly spec: SandboxSpec;
  readonly ready: Promise<Sandbox>;
  #made: Sandbox | undefined;

  constructor(backend: SandboxBackendName, spec: SandboxSpec, making: Promise<Sandbox>) {
    this.backend = backend;
    // Only the subprocess backend isolates nothing (its `isolated` is false); the made sandbox says so too.
    this.isolated = backend !== "subprocess";
    this.spec = spec;
    this.ready = making.then((made) => {
      this.#made = made;
      return made;
    });
    // Whoever drives the run awaits `ready` and reports its error; until then it is not "unhandled".
    this.ready.catch(() => {});
  }

  /** The uid commands run as, once the sandbox is made (`ready`); undefined before. */
  get runAs(): { uid: number; gid: number } | undefined {
    return this.#made?.runAs;
  }

  async exec(argv: string[], options?: ExecOptions): Promise<ExecResult> {
    return (await this.ready).exec(argv, options);
  }

  /** Waits for the making to end, then destroys what was made (nothing when it failed). */
  async destroy(): Promise<void> {
    const made = await this.ready.catch(() => undefined);
    await made?.destroy();
  }
}

/** The made sandbox: `ready` of a pending one, the sandbox itself otherwise. */
export function madeSandbox(sandbox: Sandbox): Promise<Sandbox> {
  return sandbox instanceof PendingSandbox ? sandbox.ready : Promise.resolve(sandbox);
}
