import {
  chmodSync,
  copyFileSync,
  lstatSync,
  mkdirSync,
  readlinkSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import type { SystemEntry } from "./bwrap-args.ts";

/** Top-level system directories: bound read-only, or recreated as links on merged-usr systems. */
const SYSTEM_ROOTS = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"];

/**
 * Host `/etc` files programs need and that hold no secrets, COPIED into the sandbox's own `/etc`: the
 * dynamic linker cache, OpenSSL's config, time zone and a few static tables. Links are recreated as the
 * same links.
 */
const ETC_COPIED = [
  "ld.so.cache",
  "ld.so.conf",
  "ssl/openssl.cnf",
  "ca-certificates.conf",
  "localtime",
  "timezone",
  "protocols",
  "services",
  "os-release",
];
/** Host `/etc` directories bound read-only over mount points in the sandbox's `/etc` (many small files). */
const ETC_BOUND = ["alternatives", "ssl/certs", "ld.so.conf.d"];
/** Copied only when the network is on: the resolver configuration (links followed). */
const ETC_NETWORK = ["resolv.conf", "gai.conf"];

export function detectSystemEntries(): SystemEntry[] {
  const entries: SystemEntry[] = [];
  for (const root of SYSTEM_ROOTS) {
    const stat = lstatOptional(root);
    if (!stat) continue;
    if (stat.isSymbolicLink()) entries.push({ kind: "symlink", path: root, target: readlinkSync(root) });
    else entries.push({ kind: "ro-bind", path: root });
  }
  return entries;
}

/**
 * Writes the sandbox's `/etc` into `dir` (a host directory bound read-only as `/etc`): the generated
 * files (`passwd`, `group`, `hosts`, …), copies of the pieces above, and mount points for the bound
 * directories. One bind instead of ~17 saves ≈0.6 ms per command, and the sandbox's `/etc` holds exactly
 * what is listed here — never the host's `/etc` wholesale (no shadow, no ssl/private, no gitconfig).
 * Returns the directory binds to mount over it.
 */
export function prepareEtcDir(
  dir: string,
  generated: Record<string, string>,
  network: "off" | "on",
  hostEtc = "/etc",
): SystemEntry[] {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  chmodSync(dir, 0o755);
  const ensureParent = (rel: string) => {
    const parent = path.dirname(path.join(dir, rel));
    mkdirSync(parent, { recursive: true, mode: 0o755 });
  };
  for (const [rel, content] of Object.entries(generated)) {
    ensureParent(rel);
    writeFileSync(path.join(dir, rel), content, { mode: 0o644 });
  }
  const copy = (rel: string, followLinks: boolean) => {
    const source = path.join(hostEtc, rel);
    const stat = lstatOptional(source);
    if (!stat) return;
    ensureParent(rel);
    const dest = path.join(dir, rel);
    if (stat.isSymbolicLink() && !followLinks) symlinkSync(readlinkSync(source), dest);
    else if (stat.isFile() || stat.isSymbolicLink()) {
      try {
        copyFileSync(source, dest);
        chmodSync(dest, 0o644);
      } catch {
        // a dangling link or an unreadable file: the sandbox goes without it
      }
    }
  };
  for (const rel of ETC_COPIED) copy(rel, false);
  if (network === "on") for (const rel of ETC_NETWORK) copy(rel, true);

  const binds: SystemEntry[] = [];
  for (const rel of ETC_BOUND) {
    const source = path.join(hostEtc, rel);
    if (!lstatOptional(source)?.isDirectory()) continue;
    mkdirSync(path.join(dir, rel), { recursive: true, mode: 0o755 });
    binds.push({ kind: "ro-bind", path: `/etc/${rel}`, source });
  }
  return binds;
}

function lstatOptional(file: string): ReturnType<typeof lstatSync> | undefined {
  try {
    return lstatSync(file);
  } catch {
    return undefined;
  }
}
