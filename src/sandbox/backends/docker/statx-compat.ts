/**
 * A compatibility shim for gVisor's 2022 release (Debian 12's `runsc` package): its `statx` and `newfstatat`
 * reject the `AT_NO_AUTOMOUNT` flag with EINVAL, which Linux accepts (and ignores) since 4.14. coreutils 9.1
 * passes it on every call, so `ls` and `stat` fail on every path ("ls: cannot access '/': Invalid argument"),
 * while find, cp, git, Node and Python (which do not pass it) work. Newer gVisor releases accept the flag.
 *
 * The shim is a tiny shared object preloaded into every command (`LD_PRELOAD`): `statx` and `fstatat` drop
 * the flag and make the system call. It is compiled once per source with the host's C compiler into
 * Entourage's cache (a private folder) and bound read-only into the container. Static binaries (Go's) ignore
 * it, and they do not pass the flag.
 */

import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, renameSync } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";
import { findExecutable } from "../shared/find-executable.ts";

export const STATX_SHIM_SOURCE = `#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

int statx(int dirfd, const char *path, int flags, unsigned int mask, struct statx *buf) {
  return (int)syscall(SYS_statx, dirfd, path, flags & ~AT_NO_AUTOMOUNT, mask, buf);
}

int fstatat(int dirfd, const char *path, struct stat *buf, int flags) {
  return (int)syscall(SYS_newfstatat, dirfd, path, buf, flags & ~AT_NO_AUTOMOUNT);
}

int fstatat64(int dirfd, const char *path, struct stat64 *buf, int flags) {
  return (int)syscall(SYS_newfstatat, dirfd, path, buf, flags & ~AT_NO_AUTOMOUNT);
}
`;

/** Where the shim appears inside the container. */
export const STATX_SHIM_TARGET = "/opt/entourage/gvisor-statx.so";

/** Entourage's cache folder for built artefacts (private). */
function cacheDir(): string {
  const home = process.env.ENTOURAGE_HOME ?? path.join(homedir(), ".entourage");
  return path.join(home, "cache", "gvisor");
}

/**
 * The shim's host path, compiling it first when this source was never built here; `{ reason }` when there is no
 * C compiler (or it fails): then `ls` and `stat` fail in gvisor sandboxes and the probe says so.
 */
export function statxShim(dir = cacheDir()): { path: string } | { reason: string } {
  if (process.arch !== "x64")
    return { reason: `the shim is built for x86-64 only (this is ${process.arch})` };
  const hash = createHash("sha256").update(STATX_SHIM_SOURCE).digest("hex").slice(0, 12);
  const target = path.join(dir, `statx-${hash}.so`);
  if (existsSync(target)) return { path: target };
  const cc = findExecutable("cc") ?? findExecutable("gcc");
  if (!cc) return { reason: "no C compiler (cc) to build it: apt-get install gcc" };
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const partial = `${target}.${process.pid}.tmp`;
    execFileSync(cc, ["-shared", "-fPIC", "-O2", "-o", partial, "-x", "c", "-"], {
      input: STATX_SHIM_SOURCE,
      stdio: ["pipe", "ignore", "pipe"],
    });
    renameSync(partial, target);
    return { path: target };
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
    return { reason: `${cc} could not build it: ${stderr || String(error)}` };
  }
}
