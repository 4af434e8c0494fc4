import { execFile } from "node:child_process";
import { once } from "node:events";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Writable } from "node:stream";
import { SystemError, UserError } from "../core/index.ts";
import { decodePath, encodePath } from "./path-bytes.ts";

export interface GitResult {
  stdout: Buffer;
  stderr: string;
  exitCode: number;
}

export interface GitOptions {
  env: Record<string, string>;
  cwd?: string;
  /** Written to git's stdin, which is then closed; a function streams (honouring backpressure). */
  input?: string | Buffer | ((stdin: Writable) => Promise<void>);
  /** Exit codes that are answers rather than failures (e.g. 1 for `diff --quiet`). Default: [0]. */
  okExitCodes?: number[];
  /** Runs git under this umask (through `sh`): files it writes into the work tree get no more bits. */
  umask?: number;
}

/** Diffs and blob batches can be large; a run that changes more than this is not a normal coding task. */
const MAX_OUTPUT_BYTES = 512 * 1024 * 1024;

/** Runs git with exactly `env` (nothing inherited) and returns its raw stdout. */
export function runGit(args: string[], options: GitOptions): Promise<GitResult> {
  const [file, argv] =
    options.umask === undefined
      ? ["git", args]
      : [
          "sh",
          ["-c", `umask ${options.umask.toString(8).padStart(3, "0")} && exec git "$@"`, "git", ...args],
        ];
  return run(file, argv, `git ${args.join(" ")}`, options);
}

/**
 * Runs a `sh` script of several git calls as one process, with `args` as `$1`…: each further process
 * this one starts costs Entourage a fork of itself (milliseconds of its main thread at ~150 MiB), the
 * script's a fork of `sh`. Exit 127 (`git` not found) is reported as git missing; `name` labels failures.
 */
export function runGitScript(
  name: string,
  script: string,
  args: string[],
  options: Omit<GitOptions, "umask">,
): Promise<GitResult> {
  const okExitCodes = [...(options.okExitCodes ?? [0]), 127];
  return run("sh", ["-c", script, "sh", ...args], name, { ...options, okExitCodes }).then((result) => {
    if (result.exitCode === 127) throw gitNotFound(new Error(result.stderr));
    return result;
  });
}

function gitNotFound(cause: unknown): UserError {
  const message = "git is not installed or not on PATH; install git (2.30 or newer) and try again.";
  return new UserError("git_not_found", message, { cause });
}

function run(file: string, argv: string[], name: string, options: GitOptions): Promise<GitResult> {
  return new Promise((resolve, reject) => {
    let inputError: unknown;
    const child = execFile(
      file,
      argv,
      { env: options.env, cwd: options.cwd, encoding: "buffer", maxBuffer: MAX_OUTPUT_BYTES },
      (error, stdout, stderr) => {
        const stderrText = stderr.toString("utf8").trim();
        const code: unknown = error?.code;
        if (code === "ENOENT") return reject(gitNotFound(error));
        // Our own failure to produce the input explains more than git's reaction to being killed; a
        // broken pipe does not: then git exited first and its stderr says why.
        if (inputError !== undefined && (inputError as NodeJS.ErrnoException).code !== "EPIPE")
          return reject(inputError);
        const exitCode = error ? (typeof code === "number" ? code : -1) : 0;
        if (!(options.okExitCodes ?? [0]).includes(exitCode)) {
          const message = `${name} failed (exit ${exitCode}): ${stderrText || error?.message}`;
          return reject(new SystemError("git_failed", message, { cause: error }));
        }
        resolve({ stdout, stderr: stderrText, exitCode });
      },
    );
    const stdin = child.stdin;
    if (!stdin) return;
    stdin.on("error", () => {}); // git may exit before reading all of stdin (EPIPE)
    if (typeof options.input === "function") {
      options.input(stdin).then(
        () => stdin.end(),
        (error: unknown) => {
          inputError = error;
          child.kill();
        },
      );
    } else {
      // A path that is not UTF-8 goes back to git as its own bytes (see path-bytes.ts).
      stdin.end(typeof options.input === "string" ? encodePath(options.input) : options.input);
    }
  });
}

const COMMIT_ID = /^[0-9a-f]{40}$/;

/**
 * The commit HEAD names, read from the shadow git's files without starting git (HEAD, then the loose ref
 * it points at: git writes both by rename, so a read never sees half of one); undefined when that is not
 * enough (a packed ref, an unborn branch): then ask `git rev-parse`.
 */
export async function readHeadFile(gitDir: string): Promise<string | undefined> {
  const head = (await readFile(path.join(gitDir, "HEAD"), "utf8").catch(() => "")).trim();
  if (COMMIT_ID.test(head)) return head;
  const ref = /^ref: (refs\/heads\/[A-Za-z0-9._/-]+)$/.exec(head)?.[1];
  if (!ref || ref.includes("..")) return undefined;
  const commit = (await readFile(path.join(gitDir, ref), "utf8").catch(() => "")).trim();
  return COMMIT_ID.test(commit) ? commit : undefined;
}

/** Writes `chunk`, waiting for the pipe to drain when it is full. */
export async function writeChunk(stream: Writable, chunk: string | Buffer): Promise<void> {
  if (!stream.write(chunk)) await once(stream, "drain");
}

/**
 * Splits NUL-terminated git output (`-z`) into strings. Names that are not UTF-8 keep their bytes
 * (`decodePath`), so they can be found, copied and applied under their own name.
 */
export function splitNul(output: Buffer): string[] {
  const parts: string[] = [];
  let from = 0;
  for (let at = output.indexOf(0); at >= 0; at = output.indexOf(0, from)) {
    parts.push(decodePath(output.subarray(from, at)));
    from = at + 1;
  }
  if (from < output.length) parts.push(decodePath(output.subarray(from)));
  return parts;
}

export interface ShadowGitEnvOptions {
  gitDir: string;
  workTree: string;
  /** An empty directory: git reads no user configuration from it. */
  home: string;
  /** Unix ms for author and committer dates. */
  time: number;
}

export const SHADOW_IDENTITY = { name: "Entourage", email: "entourage@localhost" };

/**
 * The environment of every shadow-git call: no system or global configuration, no inherited `GIT_*`
 * variables (Entourage may itself run inside a git hook), a fixed identity and dates from the injected
 * clock, so snapshots are reproducible and nothing of the user's setup (hooks, signing, autocrlf) leaks in.
 */
export function shadowGitEnv(options: ShadowGitEnvOptions): Record<string, string> {
  const date = `@${Math.floor(options.time / 1000)} +0000`;
  return {
    PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
    HOME: options.home,
    XDG_CONFIG_HOME: options.home,
    GIT_DIR: options.gitDir,
    GIT_WORK_TREE: options.workTree,
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_GLOBAL: "/dev/null",
    GIT_TERMINAL_PROMPT: "0",
    GIT_AUTHOR_NAME: SHADOW_IDENTITY.name,
    GIT_AUTHOR_EMAIL: SHADOW_IDENTITY.email,
    GIT_AUTHOR_DATE: date,
    GIT_COMMITTER_NAME: SHADOW_IDENTITY.name,
    GIT_COMMITTER_EMAIL: SHADOW_IDENTITY.email,
    GIT_COMMITTER_DATE: date,
    LC_ALL: "C",
  };
}

/**
 * Configuration written into the shadow git at init. Every setting that could make the stored bytes
 * differ from the work tree's bytes, run user code, or prompt is pinned here.
 */
export const SHADOW_GIT_CONFIG = `[core]
\tautocrlf = false
\tsafecrlf = false
\tsymlinks = true
\tfilemode = true
\thooksPath = /dev/null
\tfsmonitor = false
\tuntrackedCache = true
\tquotePath = false
[commit]
\tgpgsign = false
[tag]
\tgpgsign = false
[gc]
\tauto = 0
[maintenance]
\tauto = false
[advice]
\tdetachedHead = false
\taddEmbeddedRepo = false
\taddIgnoredFile = false
`;

/**
 * `.gitattributes` in the project could ask for end-of-line conversion or filters (LFS, custom), which
 * would make snapshots differ from the bytes on disk. `info/attributes` has the highest precedence.
 */
export const SHADOW_GIT_ATTRIBUTES = "* -text -eol -filter -ident -working-tree-encoding\n";

/**
 * Environment for the few read-only git calls in the user's checkout: theirs (so their global ignore
 * file applies), minus any `GIT_*` variable that could redirect git elsewhere, and with optional locks
 * off so nothing is written into their `.git`.
 */
export function userGitEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !key.startsWith("GIT_")) env[key] = value;
  }
  env.GIT_OPTIONAL_LOCKS = "0";
  env.GIT_TERMINAL_PROMPT = "0";
  return env;
}

/**
 * Creates an empty shadow git for the work tree in `options` with the pinned configuration and
 * attributes and no hooks; returns the environment to run it with.
 */
export async function initShadowGit(options: ShadowGitEnvOptions): Promise<Record<string, string>> {
  const { gitDir, workTree } = options;
  const env = shadowGitEnv(options);
  // --shared=0600: every file git makes in the shadow git is 0600 and every directory 0700, whatever the
  // umask (it holds the user's code). --template= (none): no sample hooks, description or info/exclude
  // copied in (a shadow git has no hooks; its attributes are written below).
  await runGit(
    ["init", "-q", "--template=", "--object-format=sha1", "--initial-branch=main", "--shared=0600"],
    { env, cwd: workTree },
  );
  await mkdir(options.home, { recursive: true, mode: 0o700 });
  await writeFile(path.join(gitDir, "config"), SHADOW_GIT_CONFIG, { flag: "a", mode: 0o600 });
  await mkdir(path.join(gitDir, "info"), { recursive: true, mode: 0o700 });
  await writeFile(path.join(gitDir, "info", "attributes"), SHADOW_GIT_ATTRIBUTES, { mode: 0o600 });
  // The one file `--shared` leaves to the umask: made here, git rewrites it in place, keeping the mode.
  await writeFile(path.join(gitDir, "COMMIT_EDITMSG"), "", { mode: 0o600 });
  return env;
}

/**
 * Arguments of a `git fetch` of commits by id from another shadow git, which it only reads. A local
 * fetch starts `upload-pack` in the other repository without our `-c` settings, so it gets its own:
 * then unadvertised commits (a snapshot a restore rewound past) are fetchable with either protocol.
 */
export function fetchFromShadowArgs(fromGitDir: string, refspecs: string[], flags: string[] = []): string[] {
  return [
    "fetch",
    ...flags,
    "-q",
    "--no-tags",
    "--no-write-fetch-head",
    "--no-auto-gc",
    "--upload-pack=git -c uploadpack.allowAnySHA1InWant=true upload-pack",
    "--end-of-options",
    fromGitDir,
    ...refspecs,
  ];
}
