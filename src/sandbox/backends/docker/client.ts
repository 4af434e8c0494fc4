import type Docker from "dockerode";
import { errorMessage } from "../../../core/index.ts";

/** The image the docker backend runs by default (built locally by `entourage sandbox build-image`). */
export const DEFAULT_SANDBOX_IMAGE = "entourage/sandbox:bookworm";

/** Labels on everything Entourage creates in Docker, so it can find (and clean up) its own. */
export const LABEL_SANDBOX = "dev.entourage.sandbox";
export const LABEL_SESSION = "dev.entourage.session";
export const LABEL_OWNER_PID = "dev.entourage.pid";
export const LABEL_OWNER_HOST = "dev.entourage.host";
export const LABEL_WORKSPACE = "dev.entourage.workspace";
export const LABEL_IMAGE_NODE = "dev.entourage.node";
/** The content hash of the recipe an image was built from (see image.ts). */
export const LABEL_IMAGE_RECIPE = "dev.entourage.recipe";

/** How to reach the daemon: an existing client, dockerode options, or (default) DOCKER_HOST / the local socket. */
export type DockerConnection = Docker | Docker.DockerOptions | undefined;

/**
 * A client for `connection`. dockerode is loaded on first use (≈ 150 ms of module loading that users of
 * the other backends should not pay at startup).
 */
export async function connectDocker(connection?: DockerConnection): Promise<Docker> {
  const { default: DockerClass } = await import("dockerode");
  if (connection instanceof DockerClass) return connection;
  return new DockerClass(connection as Docker.DockerOptions | undefined);
}

/** Where the client talks to, for messages. */
export function describeEndpoint(docker: Docker): string {
  const modem = docker.modem as { socketPath?: unknown; host?: string; port?: number | string };
  if (typeof modem.socketPath === "string") return `unix://${modem.socketPath}`;
  if (modem.host) return `${modem.host}${modem.port ? `:${modem.port}` : ""}`;
  return process.env.DOCKER_HOST ?? "unix:///var/run/docker.sock";
}

/** The daemon's version, or a reason (with what to do) when it cannot be reached. */
export async function pingDocker(
  docker: Docker,
  timeoutMs = 5000,
): Promise<{ ok: true; version: Docker.DockerVersion } | { ok: false; reason: string }> {
  try {
    // dockerode takes an abort signal here; its types do not say so.
    const withSignal = docker.version as unknown as (opts: {
      abortSignal: AbortSignal;
    }) => Promise<Docker.DockerVersion>;
    const version = await withSignal.call(docker, { abortSignal: AbortSignal.timeout(timeoutMs) });
    return { ok: true, version };
  } catch (error) {
    return { ok: false, reason: dockerUnreachable(docker, error) };
  }
}

export function dockerUnreachable(docker: Docker, error: unknown): string {
  const code = (error as NodeJS.ErrnoException)?.code;
  const endpoint = describeEndpoint(docker);
  const why =
    code === "ENOENT"
      ? "the socket does not exist"
      : code === "EACCES"
        ? "permission denied on the socket (add this user to the docker group, or run as root)"
        : code === "ECONNREFUSED"
          ? "connection refused"
          : errorMessage(error);
  return (
    `the Docker daemon is not reachable at ${endpoint} (${why}). ` +
    "Install Docker (apt-get install docker.io) and start it (systemctl start docker, or " +
    "`dockerd --bridge=none --iptables=false --ip6tables=false &`), or point DOCKER_HOST at a running daemon"
  );
}

/** True for the Engine API's "no such …" answers. */
export function isNotFound(error: unknown): boolean {
  return (error as { statusCode?: number })?.statusCode === 404;
}
