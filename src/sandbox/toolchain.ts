/**
 * The user's own toolchain for host-toolchain sandboxes (bwrap, subprocess): which host folders a
 * command needs to see read-only, the PATH it gets and the variables the toolchains need — built from
 * the user's environment, never from the runtime Entourage itself runs on unless they ask for it.
 *
 * Measured on Debian 12 (root, bwrap 0.8, commands as an unprivileged uid, everything read-only):
 * - rustup: the proxies in `$CARGO_HOME/bin` need `RUSTUP_HOME` (its `settings.toml` and
 *   `toolchains/`), which works read-only. Cargo writes its package-cache lock and registry into
 *   `CARGO_HOME`, so commands get a fresh writable `~/.cargo` in the sandbox HOME; the user's
 *   `~/.cargo` itself is never bound (it holds `credentials.toml`).
 * - Go: `GOROOT` works read-only; the build cache (`GOCACHE`, default under HOME) must be writable
 *   and is, in the sandbox HOME. The user's module cache is bound read-only with `GOMODCACHE`
 *   pointing at it and `GOPROXY=off`/`GOFLAGS=-mod=mod` so module tests resolve offline.
 * - pyenv: shims call `$PYENV_ROOT/bin/pyenv`, which reads the version files; read-only is enough.
 * - nvm, volta, asdf: their roots hold the installed runtimes the PATH entries point into.
 */
import { readdirSync, realpathSync, statSync } from "node:fs";
import path from "node:path";
import { UserError } from "../core/errors.ts";
import type { Toolchain } from "./sandbox.ts";

/** Directories every host-toolchain sandbox already has (read-only): never bound again. */
export const SYSTEM_DIRS = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"];

/** The PATH of a sandbox without a toolchain, and the tail appended when the user's PATH lacks it. */
export const SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** Host places that must never be bound into a sandbox, nor any folder containing them. */
const NEVER_BOUND = ["/etc", "/proc", "/sys", "/dev", "/run", "/var/run", "/boot", "/root", "/home", "/tmp"];

/** Folders and files below HOME that hold credentials: never bound, nor any folder containing one. */
export const CREDENTIAL_PATHS = [
  ".ssh",
  ".gnupg",
  ".aws",
  ".azure",
  ".kube",
  ".docker",
  ".config/gcloud",
  ".config/gh",
  ".config/hub",
  ".config/git/credentials",
  ".password-store",
  ".local/share/keyrings",
  ".netrc",
  ".npmrc",
  ".yarnrc",
  ".yarnrc.yml",
  ".pypirc",
  ".git-credentials",
  ".gem/credentials",
  ".m2/settings.xml",
  ".gradle/gradle.properties",
  ".cargo/credentials",
  ".cargo/credentials.toml",
  ".terraform.d",
  ".vault-token",
];

export interface ToolchainInput {
  /** The user's environment (PATH, HOME, CARGO_HOME, RUSTUP_HOME, GOROOT, GOPATH, GOMODCACHE, PYENV_ROOT, NVM_DIR, VOLTA_HOME, ASDF_DATA_DIR). */
  env: Readonly<Record<string, string | undefined>>;
  /** The running Node (`process.execPath`): Entourage's own runtime, left out of PATH by default. */
  execPath: string;
  /** Config `entourageRuntime`: put Entourage's own Node first on PATH instead of leaving it out. */
  entourageRuntime?: boolean;
  /** Config `toolchainPaths`: extra host folders to bind read-only. */
  extraPaths?: readonly string[];
  /** Whether commands get the network; without it Go is told not to download (`GOPROXY=off`). */
  network?: "off" | "on";
  /** Workspace-relative paths of the dependency mounts: a read-only `target` sends cargo's output elsewhere. */
  dependencyPaths?: readonly string[];
}

export interface DetectedToolchain {
  toolchain: Toolchain;
  /** What was left out and why (a refused folder, Entourage's runtime), for `doctor` and the run header. */
  notes: string[];
}

/** The filesystem reads detection needs; the default reads the real one. */
export interface ToolchainFs {
  /** The real path of `dir` when it is an existing directory. */
  realDir(dir: string): string | undefined;
  /** Entries of a directory ([] when unreadable). */
  list(dir: string): string[];
}

export const realToolchainFs: ToolchainFs = {
  realDir(dir) {
    try {
      const real = realpathSync(dir);
      return statSync(real).isDirectory() ? real : undefined;
    } catch {
      return undefined;
    }
  },
  list(dir) {
    try {
      return readdirSync(dir);
    } catch {
      return [];
    }
  },
};

/**
 * Why `dir` must never be bound into a sandbox (`/`, HOME or an ancestor of it, a system folder like
 * `/etc` or `/run`, a credentials folder or a folder holding one), or undefined when it may be.
 */
export function refusedDir(dir: string, home: string | undefined): string | undefined {
  if (!path.isAbsolute(dir)) return `${dir} is not an absolute path`;
  const d = path.resolve(dir);
  if (d === "/") return "/ is the whole host filesystem";
  if (home && path.resolve(home) !== "/" && isWithin(d, path.resolve(home))) {
    return `${d} is ${d === path.resolve(home) ? "your home directory" : "an ancestor of your home directory"}, which holds your credentials`;
  }
  for (const place of NEVER_BOUND) {
    if (isWithin(d, place)) return `${d} is or contains ${place}, which must never be mounted into a sandbox`;
    if (place !== "/root" && place !== "/home" && place !== "/tmp" && isWithin(place, d))
      return `${d} is inside ${place}, which must never be mounted into a sandbox`;
  }
  if (home) {
    for (const rel of CREDENTIAL_PATHS) {
      const secret = path.join(path.resolve(home), rel);
      if (isWithin(d, secret) || isWithin(secret, d))
        return `${d} ${isWithin(secret, d) ? "is inside" : "contains"} ${secret}, which holds credentials`;
    }
  }
  return undefined;
}

/**
 * Builds the toolchain commands get from the user's environment: PATH is the user's PATH minus
 * Entourage's own runtime (the running Node's folder, `node_modules/.bin` entries, npm's `node-gyp-bin`)
 * — or with that Node first when `entourageRuntime` is set — and the folders to bind are the PATH entries
 * outside the system folders (a `<prefix>/bin` brings its prefix when that may be bound, so npm finds
 * `../lib/node_modules`), what each known toolchain needs (see the module doc) and `extraPaths`.
 * Refused folders (HOME, credentials, `/`) are left out with a note; a refused `extraPaths` entry throws
 * a UserError (`toolchain_path_refused`).
 */
export function detectToolchain(input: ToolchainInput, fs: ToolchainFs = realToolchainFs): DetectedToolchain {
  const env = input.env;
  const home = env.HOME;
  const notes: string[] = [];
  const dirs: string[] = [];
  const vars: Record<string, string> = {};
  const runtimeReal = fs.realDir(path.dirname(input.execPath)) ?? path.dirname(input.execPath);

  /** Adds `dir` (if it exists and may be bound); returns whether commands will see it. */
  const bind = (dir: string, quiet = false): boolean => {
    if (!path.isAbsolute(dir)) return false;
    const real = fs.realDir(dir);
    if (!real) return false;
    const resolved = path.resolve(dir);
    for (const candidate of new Set([resolved, real])) {
      if (SYSTEM_DIRS.some((s) => isWithin(s, candidate))) continue;
      const refused = refusedDir(candidate, home);
      if (refused) {
        if (!quiet) notes.push(`not mounted: ${refused}`);
        return false;
      }
    }
    for (const candidate of new Set([resolved, real])) {
      if (!SYSTEM_DIRS.some((s) => isWithin(s, candidate))) dirs.push(candidate);
    }
    return true;
  };

  // PATH, in the user's order.
  const pathEntries: string[] = [];
  let droppedRuntime = false;
  for (const entry of (env.PATH ?? SYSTEM_PATH).split(":")) {
    if (entry === "" || !path.isAbsolute(entry)) continue;
    const normalized = path.resolve(entry);
    if (isEntourageRuntime(normalized, runtimeReal, fs)) {
      droppedRuntime = true;
      continue;
    }
    if (SYSTEM_DIRS.some((s) => isWithin(s, normalized))) {
      pathEntries.push(normalized);
      continue;
    }
    const prefix = path.basename(normalized) === "bin" ? path.dirname(normalized) : undefined;
    const seen =
      (prefix !== undefined && refusedDir(prefix, home) === undefined && bind(prefix, true)) ||
      bind(normalized);
    if (seen) pathEntries.push(normalized);
  }
  if (input.entourageRuntime) {
    pathEntries.unshift(runtimeReal);
    bind(path.basename(runtimeReal) === "bin" ? path.dirname(runtimeReal) : runtimeReal);
  } else if (droppedRuntime) {
    notes.push(`Entourage's own runtime (${runtimeReal}) left off PATH; set entourageRuntime to use it`);
  }
  for (const dir of SYSTEM_PATH.split(":")) if (!pathEntries.includes(dir)) pathEntries.push(dir);

  // rustup / cargo: its usual layout is `<dir>/.cargo/bin` beside `<dir>/.rustup`, <dir> being the home of
  // whoever installed it — not always this HOME (sudo -E, a service account, a test's private HOME).
  const installedIn = pathEntries
    .filter((e) => path.basename(e) === "bin" && path.basename(path.dirname(e)) === ".cargo")
    .map((e) => path.dirname(path.dirname(e)));
  const homes = [...(home ? [home] : []), ...installedIn];
  const cargoHome =
    env.CARGO_HOME ?? homes.map((h) => path.join(h, ".cargo")).find((d) => fs.realDir(path.join(d, "bin")));
  const rustupHome =
    env.RUSTUP_HOME ??
    homes.map((h) => path.join(h, ".rustup")).find((d) => fs.realDir(path.join(d, "toolchains")));
  if (rustupHome && fs.realDir(path.join(rustupHome, "toolchains"))) {
    if (bind(rustupHome)) {
      vars.RUSTUP_HOME = path.resolve(rustupHome);
      if (env.RUSTUP_TOOLCHAIN) vars.RUSTUP_TOOLCHAIN = env.RUSTUP_TOOLCHAIN;
      vars.RUSTUP_AUTO_INSTALL = "0";
    }
  }
  if (cargoHome && fs.realDir(path.join(cargoHome, "bin"))) {
    // The bin folder only (the PATH loop usually has it already); CARGO_HOME itself is writable and fresh.
    bind(path.join(cargoHome, "bin"));
    vars.CARGO_HOME = "~/.cargo";
    if (input.network !== "on") vars.CARGO_NET_OFFLINE = "true";
    if ((input.dependencyPaths ?? []).some((p) => path.posix.basename(p) === "target"))
      vars.CARGO_TARGET_DIR = "~/cargo-target";
  }

  // Go
  if (env.GOROOT && bind(env.GOROOT)) vars.GOROOT = path.resolve(env.GOROOT);
  const gopath =
    (env.GOPATH ?? "").split(":").find((p) => p !== "") ?? (home ? path.join(home, "go") : undefined);
  const modCache = env.GOMODCACHE ?? (gopath ? path.join(gopath, "pkg", "mod") : undefined);
  if (modCache && fs.realDir(modCache) && bind(modCache)) {
    vars.GOMODCACHE = path.resolve(modCache);
    vars.GOFLAGS = "-mod=mod";
    if (input.network !== "on") {
      vars.GOPROXY = "off";
      vars.GOTOOLCHAIN = "local";
    }
  }

  // pyenv, nvm, volta, asdf: their roots hold what their PATH entries point into.
  const roots: [string, string | undefined][] = [
    ["PYENV_ROOT", env.PYENV_ROOT ?? (home ? path.join(home, ".pyenv") : undefined)],
    ["NVM_DIR", env.NVM_DIR ?? (home ? path.join(home, ".nvm") : undefined)],
    ["VOLTA_HOME", env.VOLTA_HOME ?? (home ? path.join(home, ".volta") : undefined)],
    ["ASDF_DATA_DIR", env.ASDF_DATA_DIR ?? (home ? path.join(home, ".asdf") : undefined)],
  ];
  for (const [name, root] of roots) {
    if (!root || !fs.realDir(root)) continue;
    const used = env[name] !== undefined || pathEntries.some((p) => isWithin(path.resolve(root), p));
    if (used && bind(root)) vars[name] = path.resolve(root);
  }
  if (env.PYENV_VERSION && vars.PYENV_ROOT) vars.PYENV_VERSION = env.PYENV_VERSION;
  if (vars.ASDF_DATA_DIR && env.ASDF_DIR && bind(env.ASDF_DIR)) vars.ASDF_DIR = path.resolve(env.ASDF_DIR);

  for (const extra of input.extraPaths ?? []) {
    const refused = refusedDir(extra, home);
    if (refused)
      throw new UserError(
        "toolchain_path_refused",
        `toolchainPaths: ${refused}. Name the folder holding the tools instead (e.g. ~/.local/bin, /opt/tool).`,
      );
    if (!fs.realDir(extra)) {
      notes.push(`toolchainPaths: ${extra} is not an existing directory; skipped`);
      continue;
    }
    bind(extra);
  }

  return {
    toolchain: { dirs: collapse(dirs), path: [...new Set(pathEntries)].join(":"), env: vars },
    notes,
  };
}

/**
 * A toolchain's variables as a sandbox with HOME `home` sees them: a value starting with `~/` is a
 * path in the sandbox's own (private, writable) HOME.
 */
export function toolchainEnv(toolchain: Toolchain | undefined, home: string): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const [key, value] of Object.entries(toolchain?.env ?? {}))
    vars[key] = value.startsWith("~/") ? path.posix.join(home, value.slice(2)) : value;
  return vars;
}

function isEntourageRuntime(entry: string, runtimeReal: string, fs: ToolchainFs): boolean {
  if (entry.endsWith("/node_modules/.bin") || /\/node-gyp-bin$/.test(entry)) return true;
  return entry === runtimeReal || fs.realDir(entry) === runtimeReal;
}

/** Sorted, deduplicated, and without folders inside another one of the list. */
function collapse(dirs: string[]): string[] {
  const sorted = [...new Set(dirs)].sort((a, b) => a.length - b.length || (a < b ? -1 : 1));
  const kept: string[] = [];
  for (const dir of sorted) if (!kept.some((k) => isWithin(k, dir))) kept.push(dir);
  return kept.sort();
}

function isWithin(parent: string, child: string): boolean {
  const rel = path.relative(parent, child);
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}
