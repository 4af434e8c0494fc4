import { existsSync } from "node:fs";
import { createSubprocessBackend } from "../../src/sandbox/backends/index.ts";
import { findExecutable } from "../../src/sandbox/backends/shared/find-executable.ts";
import {
  type ContainmentProbe,
  inheritableFds,
  runSandboxConformance,
} from "../support/sandbox/sandbox.conformance.ts";

/**
 * The subprocess backend isolates nothing: it runs the whole containment suite declaring the escapes it
 * has on this host, and each must be observed — which proves every probe can see an escape.
 */
const root = process.getuid?.() === 0;
const escapes: ContainmentProbe[] = [
  "write-outside", // the host's /tmp at least (and /etc, /usr, / as root)
  "read-secret",
  "symlink-secret",
  "proc-environ",
  "host-processes",
  "host-tcp",
  "dns",
  "memory-bomb",
  "dependency-write", // linked, not mounted: commands write through the link into the user's folder
];
// The process cap holds where this process may create a pids cgroup (root here, or a delegated cgroup).
const pids = (await createSubprocessBackend().probe()).details?.pids ?? "";
if (!pids.startsWith("enforced")) escapes.push("fork-bomb");
if (existsSync("/var/run/docker.sock") || existsSync("/run/docker.sock")) escapes.push("docker-socket");
if (root) escapes.push("remount-root", "root-or-caps");
if (!findExecutable("prlimit")) escapes.push("cpu-time");
// Descriptors the test runner inherited without close-on-exec reach every command it spawns.
if (inheritableFds().length > 0) escapes.push("inherited-fds");

runSandboxConformance("subprocess", () => createSubprocessBackend(), { isolated: false, escapes });
