/**
 * A second, real Docker engine on this machine that plays a remote one: its own data root, exec root,
 * pid file and containerd, reached over TCP with mutual TLS (a CA and server/client certificates made
 * with openssl in a temp dir). No bridge, no iptables, no networks: containers run with network none.
 * The sandbox image is copied into it with `docker save | docker -H … load`.
 *
 * `stop()` ends the daemon by its PID (and only it) and removes its folders.
 */
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";

export interface RemoteDockerd {
  /** tcp://127.0.0.1:<port> */
  host: string;
  /** DOCKER_HOST, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH for a client of this engine. */
  env: { DOCKER_HOST: string; DOCKER_TLS_VERIFY: string; DOCKER_CERT_PATH: string };
  certDir: string;
  pid: number;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

function openssl(dir: string, args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
}

/** A CA, a server certificate for 127.0.0.1 and a client certificate, in docker's file names. */
export function makeTlsCerts(dir: string): void {
  openssl(dir, ["genrsa", "-out", "ca-key.pem", "2048"]);
  openssl(dir, [
    "req",
    "-new",
    "-x509",
    "-days",
    "2",
    "-key",
    "ca-key.pem",
    "-subj",
    "/CN=entourage-test-ca",
    "-out",
    "ca.pem",
  ]);
  for (const [name, cn, ext] of [
    ["server", "127.0.0.1", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"],
    ["client", "entourage-client", "extendedKeyUsage=clientAuth\n"],
  ] as const) {
    writeFileSync(path.join(dir, `${name}.ext`), ext);
    openssl(dir, ["genrsa", "-out", `${name}-key.pem`, "2048"]);
    openssl(dir, ["req", "-new", "-key", `${name}-key.pem`, "-subj", `/CN=${cn}`, "-out", `${name}.csr`]);
    openssl(dir, [
      "x509",
      "-req",
      "-days",
      "2",
      "-in",
      `${name}.csr`,
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca-key.pem",
      "-CAcreateserial",
      "-extfile",
      `${name}.ext`,
      "-out",
      `${name}-cert.pem`,
    ]);
  }
  // The names the docker client (and dockerode) look for in DOCKER_CERT_PATH.
  writeFileSync(path.join(dir, "cert.pem"), readFileSync(path.join(dir, "client-cert.pem")));
  writeFileSync(path.join(dir, "key.pem"), readFileSync(path.join(dir, "client-key.pem")));
}

/** Starts the engine and waits until it answers over TLS; loads `images` from the local engine into it. */
export async function startRemoteDockerd(images: readonly string[]): Promise<RemoteDockerd> {
  const root = mkdtempSync(path.join(tmpdir(), "entourage-rdocker-"));
  const certDir = path.join(root, "certs");
  execFileSync("mkdir", ["-p", certDir, path.join(root, "data"), path.join(root, "exec")]);
  makeTlsCerts(certDir);
  const port = await freePort();
  const host = `tcp://127.0.0.1:${port}`;
  const child = spawn(
    "dockerd",
    [
      "--data-root",
      path.join(root, "data"),
      "--exec-root",
      path.join(root, "exec"),
      "--pidfile",
      path.join(root, "dockerd.pid"),
      "-H",
      host,
      "--tlsverify",
      "--tlscacert",
      path.join(certDir, "ca.pem"),
      "--tlscert",
      path.join(certDir, "server-cert.pem"),
      "--tlskey",
      path.join(certDir, "server-key.pem"),
      "--bridge=none",
      "--iptables=false",
      "--ip6tables=false",
      "--containerd-namespace",
      `entourage-rdocker-${port}`,
      "--containerd-plugins-namespace",
      `entourage-rdocker-${port}-plugins`,
    ],
    { stdio: ["ignore", "ignore", "ignore"], detached: false },
  );
  const env = { DOCKER_HOST: host, DOCKER_TLS_VERIFY: "1", DOCKER_CERT_PATH: certDir };
  const pid = child.pid ?? 0;
  let exited: string | undefined;
  child.on("exit", (code, signal) => {
    exited = `dockerd exited (${code ?? signal})`;
  });
  const stop = async () => {
    if (exited === undefined && pid > 0) {
      const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      process.kill(pid, "SIGTERM");
      await Promise.race([gone, new Promise((resolve) => setTimeout(resolve, 20_000))]);
      if (exited === undefined) {
        process.kill(pid, "SIGKILL");
        await gone;
      }
    }
    // Mounts left under the data root (overlay layers of a killed daemon) would make rm fail.
    try {
      execFileSync("sh", ["-c", `grep -o " ${root}[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l`]);
    } catch {}
    rmSync(root, { recursive: true, force: true });
  };
  const cli = (args: string[], input?: Buffer) =>
    execFileSync("docker", args, {
      env: { ...process.env, ...env },
      input,
      maxBuffer: 2 * 1024 ** 3,
      stdio: ["pipe", "pipe", "pipe"],
    });
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (exited) throw new Error(`${exited} before answering on ${host}`);
      try {
        cli(["version", "--format", "{{.Server.Version}}"]);
        break;
      } catch (error) {
        if (Date.now() > deadline) throw new Error(`dockerd did not answer on ${host} within 60 s: ${error}`);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
    for (const image of images) {
      const saved = execFileSync("docker", ["save", image], { maxBuffer: 2 * 1024 ** 3 });
      cli(["load", "-q"], saved);
    }
  } catch (error) {
    await stop();
    throw error;
  }
  if (!existsSync(certDir)) throw new Error("certificates vanished");
  return { host, env, certDir, pid, stop };
}
