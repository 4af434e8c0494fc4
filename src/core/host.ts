import { readlinkSync } from "node:fs";
import { hostname } from "node:os";

/** The inode of Linux's initial PID namespace (PROC_PID_INIT_INO): the host's own processes. */
const INITIAL_PID_NAMESPACE = "pid:[4026531836]";

let cached: string | undefined;

/**
 * Where this process's pid means something: the host name, and the PID namespace when it is not the host's
 * (`devbox/pid:[4026532451]`). Entourage decides "is the process that holds this gone?" (a lease, an
 * apply's lock, a sandbox container's owner) by pid only when the holder has the same `processHost()`. Containers
 * on the host's network share its host name but not its pids: two workers in two containers must not take each
 * other's pids for their own, or one would think the other dead and take its runs (or remove its sandboxes).
 */
export function processHost(): string {
  if (cached !== undefined) return cached;
  let namespace: string | undefined;
  try {
    namespace = readlinkSync("/proc/self/ns/pid");
  } catch {
    namespace = undefined; // not Linux, or no /proc: the host name alone, as before
  }
  cached = namespace && namespace !== INITIAL_PID_NAMESPACE ? `${hostname()}/${namespace}` : hostname();
  return cached;
}
