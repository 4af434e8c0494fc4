import type Docker from "dockerode";
import { errorMessage } from "../../../core/index.ts";

/** The image the docker backend runs by default (built locally by `entourage sandbox build-image`). */
export const DEFAULT_SANDBOX_IMAGE = "entourage/sandbox:bookworm";

/** Labels on everything Entourage creates in Docker, so it can find (and clean up) its own. */
export const LABEL_SANDBOX = "dev.entourage.sandbox";
export const LABEL_SESSION = "dev.entourage.session";
export const LABEL_OWNER_PID = "dev.entourage.pid";
export const LABEL_OWNER_HOST = "dev.entourage.host";
/** The container the owning Entourage process runs in, when it runs in one (a compose worker). */
export const LABEL_OWNER_CONTAINER = "dev.entourage.owner-container";
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

interface ModemEndpoint {
  socketPath?: unknown;
  host?: string;
  port?: number | string;
  protocol?: string;
}

/** Where the client talks to, for messages: `unix:///…`, `tcp://host:port`, `ssh://host`. */
export function describeEndpoint(docker: Docker): string {
  const modem = docker.modem as ModemEndpoint;
  if (typeof modem.socketPath === "string") return `unix://${modem.socketPath}`;
  if (modem.host) {
    const scheme = modem.protocol === "ssh" ? "ssh" : "tcp";
    return `${scheme}://${modem.host}${modem.port ? `:${modem.port}` : ""}`;
  }
  return process.env.DOCKER_HOST ?? "unix:///var/run/docker.sock";
}

/**
 * Whether the engine is remote: reached over TCP or SSH rather than a local socket. A remote engine cannot
 * see host paths, so the workspace travels to it (workspace-sync.ts) instead of being bind-mounted — even
 * when the TCP address is this machine's, since nothing says the daemon shares its filesystem.
 */
export function isRemoteEngine(docker: Docker): boolean {
  // Without a host, docker-modem talks to a socket (a path, or a function that finds the default one).
  return Boolean((docker.modem as ModemEndpoint).host);
}

/**
 * How the client reaches the engine, for `entourage doctor`: endpoint, transport, and how the workspace gets
 * there (`copies`: through the archive endpoints; default: for a remote engine).
 */
export function describeEngine(docker: Docker, copies = isRemoteEngine(docker)): string {
  const modem = docker.modem as ModemEndpoint & { ca?: unknown; cert?: unknown };
  const endpoint = describeEndpoint(docker);
  if (!isRemoteEngine(docker))
    return copies
      ? `${endpoint} (local socket; the workspace is copied to the engine before each command and back after it: ENTOURAGE_DOCKER_WORKSPACE=copy)`
      : `${endpoint} (local: the workspace is bind-mounted)`;
  const transport =
    modem.protocol === "ssh"
      ? "over SSH"
      : modem.protocol === "https"
        ? modem.cert
          ? "over TLS with a client certificate"
          : "over TLS without a client certificate"
        : "over plain TCP: UNENCRYPTED and unauthenticated, anyone who reaches the port owns the engine";
  return `${endpoint} ${transport} (remote: the workspace is copied to the engine before each command and back after it)`;
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
  if (isRemoteEngine(docker)) {
    return (
      `the Docker engine at ${endpoint} is not reachable (${why}). Check DOCKER_HOST (tcp://host:2376 or ` +
      "ssh://user@host), and for TLS DOCKER_TLS_VERIFY=1 with DOCKER_CERT_PATH holding ca.pem, cert.pem and key.pem"
    );
  }
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
