/**
 * Pure builders for a bubblewrap command line: everything here is data in, argv out, so the security
 * profile is reviewed and unit-tested as plain arrays (like gemini-cli's bwrapArgsBuilder). The side
 * effects (probing the host, cgroups, spawning) live in `bwrap-backend.ts`.
 *
 * The profile, from an empty tmpfs root:
 * - namespaces: pid, ipc, uts, cgroup and net (unless network is on), `--die-with-parent` (the whole
 *   tree dies with the bwrap process), `--new-session` (no TIOCSTI into the host terminal), every
 *   capability dropped, an environment built from scratch (`--clearenv` + `--setenv`);
 * - read-only system: `/usr` and the merged-usr links (or dirs) `/bin`, `/lib`, …; an `/etc` written
 *   for the sandbox (generated passwd, group, hosts, hostname, nsswitch.conf; copies of the linker
 *   cache, time zone and a few tables; the alternatives and CA certificate dirs bound) — never the
 *   host's `/etc` wholesale, never `/`, `/root`, `/home` or `/var/run/docker.sock`;
 * - fresh `/proc` (only the sandbox's pids), minimal `/dev`, `/tmp` and `/dev/shm` as tmpfs (they count
 *   against the memory cgroup and vanish after each command), the root remounted read-only at the end;
 * - the workspace read-write at the same absolute path as on the host (so paths in messages match);
 *   the repository's git-ignored dependency folders (`node_modules`, `.venv`, …) read-only over their
 *   places in it; the user's toolchain folders (`~/.cargo/bin`, `~/.rustup/toolchains`, `/usr/local/go`,
 *   …) read-only at their own paths; a private HOME bound at `/tmp/home`. The PATH is the one the
 *   command's environment carries (the toolchain's), nothing is prepended.
 *
 * Identity. As root, bwrap runs privileged WITHOUT a user namespace and `setpriv` switches to the
 * sandbox uid/gid before the command, clearing groups, inheritable and bounding capabilities: the
 * command is a plain unprivileged host uid. (A user namespace created by root would map the sandbox's
 * uid to host uid 0: files it could reach would treat it as their owner, e.g. it could chmod the host's
 * `/dev/null`.) Not root: bwrap creates a user namespace (`--unshare-all`) and the command keeps the
 * caller's uid.
 */

export type NetworkMode = "off" | "on";

/** A host path recreated inside: bound read-only, or recreated as the same symlink. */
export type SystemEntry =
  | { kind: "ro-bind"; path: string; source?: string }
  | { kind: "symlink"; path: string; target: string };

export type SandboxIdentity =
  /** Host root: privileged bwrap, then `setpriv` to an unprivileged uid/gid. */
  | { kind: "setpriv"; uid: number; gid: number; setpriv: string }
  /** Unprivileged host user: bwrap's own user namespace, same uid inside. */
  | { kind: "userns" };

export interface BwrapProfile {
  /** `/usr`, `/bin`, … from `detectSystemEntries()`. */
  system: SystemEntry[];
  /**
   * The sandbox's `/etc`: a host directory written for the session (`prepareEtcDir()`), bound read-only,
   * and host directories bound over mount points inside it.
   */
  etc: { source: string; binds: SystemEntry[] };
  /** Host workspace (real path) and where commands see it (the spec's path). */
  workspace: { source: string; dest: string };
  /** A private host directory bound read-write as HOME. */
  home: { source: string; dest: string };
  /** Host directories bound read-only at the same path (the user's toolchain; see `Toolchain.dirs`). */
  toolchainDirs: readonly string[];
  /**
   * Host folders bound read-only inside the workspace (`dest` absolute, under `workspace.dest`): the
   * dependency mounts, already validated and resolved. bwrap creates their mount points.
   */
  dependencies: readonly { source: string; dest: string }[];
  network: NetworkMode;
  hostname: string;
  identity: SandboxIdentity;
}

export interface BwrapCommand {
  argv: string[];
  /** Absolute working directory as seen inside (under `workspace.dest`). */
  cwd: string;
  /** The complete environment (already filtered), PATH included. */
  env: Record<string, string>;
}

/** Arguments for `bwrap` (without the program name) that run `command` under `profile`. */
export function buildBwrapArgs(profile: BwrapProfile, command: BwrapCommand): string[] {
  const args: string[] = [];
  const created = new Set<string>(["/"]);
  const mounted: string[] = [];
  const ensureParents = (dest: string) => {
    const parts = dest.split("/").filter(Boolean);
    for (let i = 1; i < parts.length; i++) {
      const dir = `/${parts.slice(0, i).join("/")}`;
      if (created.has(dir) || mounted.some((m) => dir === m || dir.startsWith(`${m}/`))) continue;
      args.push("--perms", "0755", "--dir", dir);
      created.add(dir);
    }
  };
  const addEntry = (entry: SystemEntry) => {
    ensureParents(entry.path);
    if (entry.kind === "symlink") args.push("--symlink", entry.target, entry.path);
    else {
      args.push("--ro-bind", entry.source ?? entry.path, entry.path);
      mounted.push(entry.path);
    }
    created.add(entry.path);
  };

  if (profile.identity.kind === "setpriv") {
    // No user namespace on purpose (see the module doc); every other namespace is new.
    args.push("--unshare-ipc", "--unshare-pid", "--unshare-uts", "--unshare-cgroup-try");
    if (profile.network === "off") args.push("--unshare-net");
  } else {
    args.push("--unshare-all");
    if (profile.network === "on") args.push("--share-net");
  }
  args.push("--die-with-parent", "--new-session", "--cap-drop", "ALL");
  if (profile.identity.kind === "setpriv") {
    // Only until setpriv, which drops them all (and the bounding set) before the command starts:
    // SETUID/SETGID to switch, SETPCAP to clear the bounding set, DAC_READ_SEARCH for bwrap's --chdir
    // into a workspace that belongs to the sandbox uid (mode 0700 dirs included).
    args.push(
      "--cap-add",
      "CAP_SETUID",
      "--cap-add",
      "CAP_SETGID",
      "--cap-add",
      "CAP_SETPCAP",
      "--cap-add",
      "CAP_DAC_READ_SEARCH",
    );
  }

  for (const entry of profile.system) addEntry(entry);
  addEntry({ kind: "ro-bind", path: "/etc", source: profile.etc.source });
  for (const entry of profile.etc.binds) addEntry(entry);

  args.push("--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--tmpfs", "/dev/shm");
  args.push("--perms", "1777", "--tmpfs", "/tmp");
  created.add("/proc").add("/dev").add("/tmp");
  ensureParents("/var/tmp");
  args.push("--symlink", "../tmp", "/var/tmp");

  // Parents before children: a dependency folder inside the workspace must be mounted over it, not
  // under it (a stable sort keeps the given order among equals).
  const binds = [
    { source: profile.workspace.source, dest: profile.workspace.dest, flag: "--bind" },
    { source: profile.home.source, dest: profile.home.dest, flag: "--bind" },
    ...profile.toolchainDirs.map((dir) => ({ source: dir, dest: dir, flag: "--ro-bind" })),
    ...profile.dependencies.map((dep) => ({ source: dep.source, dest: dep.dest, flag: "--ro-bind" })),
  ].sort((a, b) => depth(a.dest) - depth(b.dest));
  for (const bind of binds) {
    ensureParents(bind.dest);
    args.push(bind.flag, bind.source, bind.dest);
    mounted.push(bind.dest);
  }

  args.push("--chdir", command.cwd, "--hostname", profile.hostname, "--remount-ro", "/");

  args.push("--clearenv");
  for (const [key, value] of Object.entries(command.env)) args.push("--setenv", key, value);

  args.push("--");
  if (profile.identity.kind === "setpriv") {
    const { uid, gid, setpriv } = profile.identity;
    args.push(
      setpriv,
      `--reuid=${uid}`,
      `--regid=${gid}`,
      "--clear-groups",
      "--inh-caps=-all",
      "--bounding-set=-all",
      "--",
    );
  }
  args.push(...command.argv);
  return args;
}

export interface LauncherInput {
  /** `cgroup.procs` files the launcher joins first. */
  cgroupProcs: string[];
  /** RLIMIT_CPU (soft = hard) for every process of the command. */
  cpuSeconds?: number;
  /** RLIMIT_FSIZE in bytes (the disk quota): no file of the command grows past it. */
  fileBytes?: number;
  /** The launcher's shell: any POSIX sh, unless `bash` is given. */
  sh: string;
  /**
   * bash, run without any startup file (it would read ~/.bashrc with sockets as stdin), closing every
   * descriptor above 3 first: ones this process inherited without close-on-exec (from whatever started
   * Entourage) would otherwise pass through bwrap into the sandbox. A POSIX sh cannot name them (>9).
   */
  bash?: string;
  /** The file (written by the host, never reachable from a sandbox) the launcher sources to run its command. */
  script: string;
}

/**
 * A launcher spawned AHEAD of its command (one is kept ready per session): a tiny `sh` joins the
 * session's cgroups with its own pid and sets RLIMIT_CPU with `ulimit -t`, then waits for a line on
 * fd 3; when the host has written the command's `launchScript()` to `script` and sent the line, it
 * closes fd 3 and sources the script, which execs bwrap (same pid: the host's process-group kill and
 * exit status are bwrap's). Every process of the command is born inside the cgroups and under the CPU
 * limit; if a step fails the shell stops and the command never runs.
 *
 * Why ahead of time: moving a process into a cgroup takes the kernel's global cgroup_threadgroup_rwsem
 * for writing, which waits for an RCU grace period unless another migration happened moments before —
 * measured here as 7–14 ms on most commands issued a few hundred ms apart. Joining while the previous
 * command runs (or the model thinks) takes that wait, and the shell's own start, off the command's path.
 * (RLIMIT_AS is not used: it breaks Node's large virtual reservations. RLIMIT_NPROC is not used: it
 * counts every process of the uid host-wide.)
 */
/** bash: closes every descriptor of the shell above 3 (0–2 are the command's stdio, 3 the go pipe). */
// biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion, not a template
const CLOSE_FDS = '{ for f in /proc/$$/fd/*; do n=${f##*/}; [ "$n" -le 3 ] || eval "exec $n>&-"; done; }';

export function buildLauncher(input: LauncherInput): string[] {
  const steps: string[] = [];
  if (input.bash) steps.push(CLOSE_FDS);
  steps.push(...input.cgroupProcs.map((_, i) => `echo $$ > "$${i + 1}"`));
  if (input.cpuSeconds !== undefined) steps.push(`ulimit -t ${Math.max(1, Math.ceil(input.cpuSeconds))}`);
  // bash counts `ulimit -f` in 1024-byte blocks, a POSIX sh (dash) in 512-byte ones.
  if (input.fileBytes !== undefined)
    steps.push(`ulimit -f ${Math.max(1, Math.floor(input.fileBytes / (input.bash ? 1024 : 512)))}`);
  // What the command creates in the run's workspace and HOME (under ENTOURAGE_HOME) is the owner's alone.
  steps.push("umask 077", "read -r _ <&3", "exec 3<&-", `. "$${input.cgroupProcs.length + 1}"`);
  const shell = input.bash ? [input.bash, "--norc", "--noprofile"] : [input.sh];
  return [...shell, "-c", steps.join(" && "), "entourage-sandbox", ...input.cgroupProcs, input.script];
}

/** The script a launcher sources: exec of `argv`, every word single-quoted (newlines included). */
export function launchScript(argv: string[]): string {
  return `exec ${argv.map(shellQuote).join(" ")}\n`;
}

export function shellQuote(word: string): string {
  return `'${word.replaceAll("'", "'\\''")}'`;
}

export interface EtcInput {
  uid: number;
  gid: number;
  home: string;
  hostname: string;
}

/** Minimal `/etc` files for the sandbox (paths relative to /etc): only root, the sandbox user and nobody exist. */
export function generateEtcFiles(input: EtcInput): Record<string, string> {
  return {
    passwd: [
      "root:x:0:0:root:/root:/usr/sbin/nologin",
      `entourage:x:${input.uid}:${input.gid}:Entourage sandbox:${input.home}:/bin/sh`,
      "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin",
      "",
    ].join("\n"),
    group: ["root:x:0:", `entourage:x:${input.gid}:`, "nogroup:x:65534:", ""].join("\n"),
    hostname: `${input.hostname}\n`,
    hosts: `127.0.0.1\tlocalhost ${input.hostname}\n::1\tlocalhost ip6-localhost ip6-loopback\n`,
    "nsswitch.conf": [
      "passwd: files",
      "group: files",
      "shadow: files",
      "hosts: files dns",
      "networks: files",
      "protocols: files",
      "services: files",
      "",
    ].join("\n"),
  };
}

function depth(p: string): number {
  return p.split("/").filter(Boolean).length;
}
