/**
 * The shell around every command the docker backend runs, and the one that kills it.
 *
 * The Engine API can start an exec but has no way to signal it, and stopping the exec's client leaves its
 * processes running. So each command records its own process group, and a timeout or abort runs a second
 * exec that kills it:
 *
 * - `docker exec` makes the wrapper (`/bin/sh`) a session leader. It applies `ulimit -t` (RLIMIT_CPU,
 *   inherited by everything below), then starts the command through an inner `sh` that writes its pid
 *   to `/tmp/.entourage-exec-<id>` and execs `setsid` (it is not a group leader, so setsid does not fork):
 *   the command runs with pid = pgid = the recorded number, in the foreground (stdin and signal
 *   dispositions untouched, unlike a `&` job of a non-interactive shell).
 * - When the command ends, the wrapper SIGKILLs the rest of its group (background jobs it left behind)
 *   and exits with its status: `128 + n` when a signal killed it, 127 when it was not found.
 * - Every process of the exec inherits `ENTOURAGE_EXEC=<id>`. The kill exec first leaves a cancel flag
 *   (`…-<id>.cancel`: a wrapper that starts after it exits 137 at once, so a kill that overtakes a
 *   starting command still wins), then SIGKILLs the recorded group
 *   and then every process carrying the marker (twice; one may fork during the sweep), which catches what
 *   left the group with `setsid` or a double fork. When no other command of the sandbox is running it
 *   instead SIGKILLs every process the sandbox uid may signal (`kill -9 -1`): that catches even a process
 *   that cleared its environment. The container's own pid 1 and keeper run as another uid, so the
 *   container survives it.
 * - The kill exec needs a free process slot in the container; a fork bomb at the pids limit leaves none
 *   (runc's exec fails with "read init-p: connection reset by peer"). Then the backend signals the keeper
 *   instead (the Engine API's kill sends `REAPER_SIGNAL` to pid 1). The keeper is the container's pid 1,
 *   running as the commands' uid: the kernel lets no process of the container SIGKILL its own init, so
 *   the commands' `kill -9 -1` spares it, and on the signal it runs only shell builtins, so it needs no new
 *   process to SIGKILL every other process until none is left. As pid 1 it also reaps orphans (its `wait`).
 */

export const EXEC_MARKER_VAR = "ENTOURAGE_EXEC";

/** The signal that makes the keeper kill every process of the container (see `keeperCommand`). */
export const REAPER_SIGNAL = "SIGUSR1";

/**
 * The container's pid 1. On `REAPER_SIGNAL` it SIGKILLs every other process until nothing is left (bounded);
 * `kill` is a builtin, so the trap forks nothing. `wait` reaps every child, orphans adopted included.
 */
const KEEPER = [
  `trap 'n=0; while kill -9 -1 2>/dev/null && [ $n -lt 500 ]; do n=$((n+1)); done' ${REAPER_SIGNAL.slice(3)}`,
  "while :; do sleep infinity & wait; done",
].join("\n");

/**
 * The keeper that also enforces the CPU-time limit, for runtimes that do not (gVisor 2022 keeps RLIMIT_CPU but
 * never signals at it: a busy loop under `ulimit -t 1` ran its 4 s). Once a second it reads every process's
 * user + system time from /proc/<pid>/stat (fields 14 and 15, in clock ticks of 1/100 s) and SIGKILLs any
 * process over the limit, as RLIMIT_CPU's hard limit would (per process).
 *
 * It must never fork: under gVisor the process cap is RLIMIT_NPROC of the commands' uid, which is the keeper's
 * too, and a shell whose `&` cannot fork exits (dash: "Cannot fork", status 2) — the container's init, so the
 * whole sandbox (seen: a command's 80 background sleeps against a cap of 32). So it is bash, which waits
 * without a process: `read -t 1` on a FIFO it holds open for reading and writing (made once, at start, when
 * nothing else runs), which never has data nor an end. Everything in the loop is a builtin; SIGCHLD reaps
 * the orphans it adopts.
 */
function cpuWatchingKeeper(cpuSeconds: number): string {
  const ticks = Math.max(1, Math.ceil(cpuSeconds)) * 100;
  const tick = "/tmp/.entourage-keeper-tick";
  return [
    KEEPER.split("\n")[0],
    `mkfifo -m 600 ${tick} && exec 3<> ${tick} || exit 1`,
    "while :; do",
    "  read -r -t 1 -u 3 _",
    "  for d in /proc/[0-9]*; do",
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion, not a template
    '    p=${d#/proc/}; [ "$p" != 1 ] || continue',
    '    read -r l < "$d/stat" 2>/dev/null || continue',
    // After the command name (in parentheses, it may hold spaces): state is $1, utime $12, stime $13.
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion, not a template
    "    set -- ${l##*) }",
    `    [ $((\${12:-0} + \${13:-0})) -le ${ticks} ] || kill -9 "$p" 2>/dev/null`,
    "  done",
    "done",
  ].join("\n");
}

/** The container's Cmd: the keeper; with `cpuSeconds`, one that also enforces it (`cpuWatchingKeeper`, bash). */
export function keeperCommand(cpuSeconds?: number): string[] {
  if (cpuSeconds === undefined) return ["/bin/sh", "-c", KEEPER, "entourage-keeper"];
  return ["/bin/bash", "-c", cpuWatchingKeeper(cpuSeconds), "entourage-keeper"];
}

/** Where the wrapper records a command's process group (the container's /tmp, a tmpfs). */
export function pgidFile(id: string): string {
  return `/tmp/.entourage-exec-${id}`;
}

const WRAPPER = [
  "p=$1 c=$2 f=$3; shift 3",
  '[ ! -e "$p.cancel" ] || exit 137',
  '[ -z "$c" ] || ulimit -t "$c" || exit 126',
  // The disk quota as RLIMIT_FSIZE, in the 512-byte blocks of a POSIX sh's ulimit.
  '[ -z "$f" ] || ulimit -f "$f" || exit 126',
  // What commands create in the workspace (under ENTOURAGE_HOME) is the user's alone.
  "umask 077",
  `/bin/sh -c 'echo $$ > "$0" && exec setsid "$@"' "$p" "$@"`,
  "r=$?",
  '{ read g < "$p" && kill -9 -"$g"; } 2>/dev/null',
  'rm -f "$p"',
  'exit "$r"',
].join("\n");

const KILLER = [
  "p=$1 m=$2 scope=$3",
  ': > "$p.cancel"',
  '{ read g < "$p" && kill -9 -"$g"; } 2>/dev/null',
  // One pass races a fork bomb (children forked while the list is walked are missed): pass again until a
  // pass finds nothing to kill (bounded, so a killer that cannot win still ends).
  'if [ "$scope" = all ]; then n=0; while kill -9 -1 2>/dev/null && [ $n -lt 500 ]; do n=$((n+1)); done; exit 0; fi',
  "n=0",
  "while [ $n -lt 100 ]; do",
  "  n=$((n+1)) found=",
  "  for d in /proc/[0-9]*; do",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion, not a template
  '    grep -qzxF "$m" "$d/environ" 2>/dev/null && kill -9 "${d#/proc/}" 2>/dev/null && found=1',
  "  done",
  '  [ -n "$found" ] || break',
  "done",
  "exit 0",
].join("\n");

/** The exec's Cmd: the wrapper, the exec id, the CPU and file size limits, then the command's argv untouched. */
export function wrapCommand(
  id: string,
  argv: string[],
  cpuSeconds: number | undefined,
  fileBytes?: number,
): string[] {
  if (!/^[A-Za-z0-9._-]+$/.test(id)) throw new Error(`bad exec id ${JSON.stringify(id)}`);
  const cpu = cpuSeconds === undefined ? "" : String(Math.max(1, Math.ceil(cpuSeconds)));
  const file = fileBytes === undefined ? "" : String(Math.max(1, Math.floor(fileBytes / 512)));
  return ["/bin/sh", "-c", WRAPPER, "entourage-exec", pgidFile(id), cpu, file, ...argv];
}

/**
 * The kill exec's Cmd. `exec`: the command's group and every process marked with its id. `all`: also every
 * process of the sandbox uid (only when no other command of the sandbox is running).
 */
export function killCommand(id: string, scope: "exec" | "all"): string[] {
  if (!/^[A-Za-z0-9._-]+$/.test(id)) throw new Error(`bad exec id ${JSON.stringify(id)}`);
  return ["/bin/sh", "-c", KILLER, "entourage-kill", pgidFile(id), `${EXEC_MARKER_VAR}=${id}`, scope];
}
