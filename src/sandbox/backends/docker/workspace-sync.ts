/**
 * The workspace on a remote Docker engine. A remote engine cannot see host paths, so instead of a bind mount
 * the container gets a volume at the workspace's path, and the workspace travels through the Engine API's
 * archive endpoints:
 *
 * - before each command, `push` uploads what changed on the host since the last sync (a manifest of type,
 *   size, mtime and mode per path; a tar of the changed entries made by the host's `tar`, owned by the
 *   sandbox uid) and removes in the container what was deleted on the host;
 * - after each command, `pull` lists the container's workspace (`find -printf`, one exec), downloads the
 *   entries whose manifest changed (`getArchive`, one file each, or the whole workspace when many changed)
 *   and writes them into the host workspace, deleting on the host what the command deleted. Host-side tools
 *   and snapshots then see the command's effects as with a bind mount.
 *
 * Dependency folders travel once, at create, owned by root and without write bits (read-only for the
 * sandbox uid), and are left out of both directions.
 *
 * Writing into the host workspace never follows a symlink: every parent is checked with lstat, and a
 * path whose parent is a symlink is skipped (the command's symlink itself travels as a symlink).
 */

import { execFile, spawn } from "node:child_process";
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmSync,
} from "node:fs";
import path from "node:path";
import type { Duplex, Readable } from "node:stream";
import type Docker from "dockerode";
import { errorMessage, SystemError, UserError } from "../../../core/index.ts";
import { demuxOutput } from "./demux.ts";
import { exitCodeOf } from "./engine-checks.ts";

/** Above this many changed entries, one archive of the whole workspace beats one request per entry. */
const PER_ENTRY_LIMIT = 16;

/** path (relative, `/`-separated) → signature (`f:size:mtime:mode`, `d:mode`, `l:target`). */
export type Manifest = Map<string, string>;

export interface SyncTarget {
  docker: Docker;
  container: Docker.Container;
  /** The workspace on the host (real path) and its path inside the container. */
  hostRoot: string;
  containerRoot: string;
  /** `uid:gid` commands run as; uploaded files belong to it. */
  user: { uid: number; gid: number };
  /** Workspace-relative paths left out of the sync (the dependency folders). */
  excluded: readonly string[];
}

/** The differences between two manifests: entries new or changed in `now`, entries gone from it. */
export function diffManifests(synced: Manifest, now: Manifest): { changed: string[]; deleted: string[] } {
  const changed = [...now.keys()].filter((rel) => synced.get(rel) !== now.get(rel)).sort();
  const gone = [...synced.keys()].filter((rel) => !now.has(rel)).sort();
  // Only the topmost of each deleted tree: removing it removes the rest.
  const deleted: string[] = [];
  for (const rel of gone) {
    const top = deleted.at(-1);
    if (top === undefined || !rel.startsWith(`${top}/`)) deleted.push(rel);
  }
  return { changed, deleted };
}

/** One host entry's signature (undefined for what does not travel: sockets, devices, fifos, nothing). */
function hostSignature(full: string): string | undefined {
  const stat = lstatOptional(full);
  if (!stat) return undefined;
  const mode = stat.mode & 0o7777;
  if (stat.isSymbolicLink()) return `l:${readlinkSync(full)}`;
  if (stat.isDirectory()) return `d:${mode}`;
  if (stat.isFile()) return `f:${stat.size}:${Math.floor(stat.mtimeMs / 1000)}:${mode}`;
  return undefined;
}

/** The host workspace's manifest; never follows symlinks, skips `excluded`. */
export function hostManifest(root: string, excluded: readonly string[]): Manifest {
  const manifest: Manifest = new Map();
  const skip = new Set(excluded);
  const walk = (dir: string, prefix: string) => {
    for (const name of readdirSync(dir).sort()) {
      const rel = prefix ? `${prefix}/${name}` : name;
      if (skip.has(rel)) continue;
      const full = path.join(dir, name);
      const signature = hostSignature(full);
      if (signature) manifest.set(rel, signature);
      if (signature?.startsWith("d:")) walk(full, rel);
    }
  };
  walk(root, "");
  return manifest;
}

/** The `find` that lists the container's workspace: type, size, mtime, mode, path, link target, NUL-separated. */
export function listCommand(excluded: readonly string[]): string[] {
  const prune = excluded.flatMap((rel, i) => [...(i > 0 ? ["-o"] : []), "-path", `./${rel}`]);
  return [
    "find",
    ".",
    "-mindepth",
    "1",
    ...(prune.length > 0 ? ["(", ...prune, ")", "-prune", "-o"] : []),
    "-printf",
    "%y\\0%s\\0%T@\\0%m\\0%P\\0%l\\0",
  ];
}

/**
 * Parses the list's output into a manifest with the signatures `hostManifest` gives the same entry (mtime in
 * whole seconds when the fraction is zero, as tar stores it; a fresh write keeps its fraction and so differs).
 */
export function parseListing(output: string): { manifest: Manifest; unreadable: string[] } {
  const fields = output.split("\0");
  const manifest: Manifest = new Map();
  // A name (or link target) that is not UTF-8 cannot be asked for by name through the Engine API.
  const unreadable: string[] = [];
  for (let at = 0; at + 5 < fields.length; at += 6) {
    const [type, size, mtime, mode, rel, target] = fields.slice(at, at + 6) as [
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    const octal = Number.parseInt(mode, 8);
    if (rel.includes("\uFFFD") || target.includes("\uFFFD")) unreadable.push(rel);
    else if (type === "l") manifest.set(rel, `l:${target}`);
    else if (type === "d") manifest.set(rel, `d:${octal}`);
    else if (type === "f") {
      const seconds = Number(mtime);
      manifest.set(rel, `f:${size}:${Number.isInteger(seconds) ? seconds : mtime}:${octal}`);
    }
  }
  return { manifest, unreadable };
}

/** The line a command's output gets for names that could not travel back (after `output`'s last line). */
export function strandedNote(output: string, names: readonly string[]): string {
  const quoted = names.map((name) => JSON.stringify(name)).join(", ");
  return (
    `${output === "" || output.endsWith("\n") ? "" : "\n"}[entourage] ${names.length} name(s) that are not UTF-8 ` +
    `stayed in the remote sandbox and are not in the workspace (rename them to travel): ${quoted}\n`
  );
}

/** Runs `cmd` in the container as `user` in `cwd`; its exit code and output (stdout + stderr). */
export async function containerRun(
  target: Pick<SyncTarget, "docker" | "container">,
  cmd: string[],
  user: string,
  cwd: string,
): Promise<{ exitCode: number; output: string }> {
  const exec = await target.container.exec({
    Cmd: cmd,
    User: user,
    WorkingDir: cwd,
    AttachStdout: true,
    AttachStderr: true,
    Env: ["LC_ALL=C.UTF-8"],
  });
  const stream = (await exec.start({ hijack: true, stdin: false })) as Duplex;
  let output = "";
  const flush = demuxOutput(target.docker.modem, stream, (_name, text) => {
    output += text;
  });
  await new Promise<void>((resolve) => {
    stream.on("end", resolve);
    stream.on("close", resolve);
    stream.on("error", () => resolve());
    stream.end();
  });
  flush();
  stream.destroy();
  return { exitCode: (await exitCodeOf(exec)) ?? -1, output };
}

/**
 * `tar -c` of `entries` (relative to `cwd`) as one buffer, owned by `owner` (`uid:gid`); `recursive` takes
 * folders whole, `readOnly` drops every write bit, `rename` replaces a leading `.` of each name.
 */
export function packTar(
  cwd: string,
  entries: readonly string[],
  owner: string,
  options: { recursive?: boolean; readOnly?: boolean; rename?: string } = {},
) {
  const [uid, gid] = owner.split(":");
  const extra = [
    ...(options.readOnly ? ["--mode=a-w"] : []),
    ...(options.rename ? [`--transform=s,^\\.,${options.rename},`] : []),
  ];
  return new Promise<Buffer>((resolve, reject) => {
    const child = execFile(
      "tar",
      [
        "-c",
        options.recursive ? "--recursion" : "--no-recursion",
        "--null",
        "-T",
        "-",
        `--owner=sandbox:${uid}`,
        `--group=sandbox:${gid}`,
        "--numeric-owner",
        ...extra,
      ],
      { cwd, encoding: "buffer", maxBuffer: 16 * 1024 ** 3 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`tar -c failed: ${stderr.toString().trim() || error.message}`));
        else resolve(stdout);
      },
    );
    child.stdin?.on("error", () => {});
    child.stdin?.end(entries.map((rel) => `${rel}\0`).join(""));
  });
}

/** Extracts a tar stream into the (fresh, empty) folder `dir`, files owned by this process's user. */
function extractTar(stream: Readable, dir: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn("tar", ["-x", "--no-same-owner", "-C", dir], { stdio: ["pipe", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    child.stdin.on("error", () => {});
    stream.on("error", (error) => child.kill("SIGKILL") && reject(error));
    stream.pipe(child.stdin);
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0 ? resolve() : reject(new Error(`tar -x failed (${code}): ${stderr.trim()}`)),
    );
  });
}

/**
 * True when every parent of `rel` under `root` is a real directory (missing ones created when `create`);
 * false on a symlink or a file, or a missing parent without `create`.
 */
function safeParents(root: string, rel: string, create: boolean): boolean {
  let dir = root;
  for (const part of rel.split("/").slice(0, -1)) {
    dir = path.join(dir, part);
    const stat = lstatOptional(dir);
    if (!stat && create) mkdirSync(dir);
    else if (!stat?.isDirectory()) return false;
  }
  return true;
}

function lstatOptional(file: string) {
  try {
    return lstatSync(file);
  } catch {
    return undefined;
  }
}

/** Moves the host and container copies of one workspace in step. One at a time (calls are queued). */
export class WorkspaceSync {
  readonly #target: SyncTarget;
  #host: Manifest = new Map();
  #container: Manifest = new Map();
  #queue: Promise<unknown> = Promise.resolve();
  /** Names already reported as unable to travel. */
  readonly #reported = new Set<string>();
  /**
   * The volume's root folder is root's (the archive endpoints skip a tar's `.` entry, and without
   * capabilities root cannot chown): the first push opens it to the sandbox uid with a chmod by its owner.
   */
  #rootOpened = false;

  constructor(target: SyncTarget) {
    this.#target = target;
  }

  get #owner(): string {
    return `${this.#target.user.uid}:${this.#target.user.gid}`;
  }

  #serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(work, work);
    this.#queue = next.catch(() => {});
    return next.catch((error) => {
      throw SystemError.isInstance(error)
        ? error
        : new SystemError(
            "sandbox_sync",
            `Could not sync the workspace with the Docker engine: ${errorMessage(error)}`,
            {
              cause: error,
            },
          );
    });
  }

  /** Uploads each dependency folder once, owned by root and without write bits. */
  uploadDependencies(mounts: readonly { source: string; path: string }[]): Promise<void> {
    return this.#serial(async () => {
      for (const mount of mounts) {
        const rel = mount.path.split(path.sep).join("/");
        const parent = path.posix.dirname(rel);
        if (parent !== ".") {
          const made = await containerRun(
            this.#target,
            ["mkdir", "-p", "--", parent],
            this.#owner,
            this.#target.containerRoot,
          );
          if (made.exitCode !== 0) throw new Error(`mkdir ${parent} in the container: ${made.output.trim()}`);
        }
        const tar = await packTar(mount.source, ["."], "0:0", {
          recursive: true,
          readOnly: true,
          rename: path.posix.basename(rel),
        });
        await this.#target.container.putArchive(tar, {
          path: path.posix.join(this.#target.containerRoot, parent),
        });
      }
    });
  }

  /** Host → container: what changed on the host since the last sync. */
  push(): Promise<void> {
    return this.#serial(async () => {
      const { hostRoot, containerRoot, excluded } = this.#target;
      const now = hostManifest(hostRoot, excluded);
      const { changed, deleted } = diffManifests(this.#host, now);
      if (deleted.length > 0) {
        const removed = await containerRun(
          this.#target,
          ["rm", "-rf", "--", ...deleted],
          this.#owner,
          containerRoot,
        );
        if (removed.exitCode !== 0) throw new Error(`rm in the container: ${removed.output.trim()}`);
        for (const rel of [...this.#container.keys()])
          if (deleted.some((top) => rel === top || rel.startsWith(`${top}/`))) this.#container.delete(rel);
      }
      if (!this.#rootOpened) {
        const opened = await containerRun(this.#target, ["chmod", "0777", containerRoot], "0:0", "/");
        if (opened.exitCode !== 0)
          throw new Error(`chmod of the workspace in the container: ${opened.output.trim()}`);
        this.#rootOpened = true;
      }
      if (changed.length > 0) {
        const tar = await packTar(hostRoot, changed, this.#owner);
        await this.#target.container.putArchive(tar, { path: containerRoot });
        for (const rel of changed) this.#container.set(rel, now.get(rel) as string);
      }
      this.#host = now;
    });
  }

  /** Takes the container's manifest as synced (after the dependencies' parents were made there). */
  relist(): Promise<void> {
    return this.#serial(async () => {
      this.#container = (await this.#list()).manifest;
    });
  }

  async #list(): Promise<{ manifest: Manifest; unreadable: string[] }> {
    const { containerRoot, excluded } = this.#target;
    const listing = await containerRun(this.#target, listCommand(excluded), this.#owner, containerRoot);
    if (listing.exitCode !== 0)
      throw new Error(`listing the container's workspace: ${listing.output.trim()}`);
    return parseListing(listing.output);
  }

  /**
   * Container → host: what the command changed, written into the host workspace. Returns the names that
   * could not travel (not UTF-8), each once, for the command's output to say so.
   */
  pull(): Promise<string[]> {
    return this.#serial(async () => {
      const { hostRoot } = this.#target;
      const { manifest: now, unreadable } = await this.#list();
      const { changed, deleted } = diffManifests(this.#container, now);
      for (const rel of deleted.reverse()) {
        if (safeParents(hostRoot, rel, false))
          rmSync(path.join(hostRoot, rel), { recursive: true, force: true });
        for (const key of [...this.#host.keys()])
          if (key === rel || key.startsWith(`${rel}/`)) this.#host.delete(key);
      }
      if (changed.length > 0) await this.#download(changed, now);
      // Only what came back is taken as synced: a host-side edit made meanwhile still goes up next time.
      for (const rel of changed) {
        const signature = safeParents(hostRoot, rel, false)
          ? hostSignature(path.join(hostRoot, rel))
          : undefined;
        if (signature) this.#host.set(rel, signature);
        else this.#host.delete(rel);
      }
      this.#container = now;
      const fresh = unreadable.filter((rel) => !this.#reported.has(rel));
      for (const rel of fresh) this.#reported.add(rel);
      return fresh;
    });
  }

  /** The archive of `file` in the container (dockerode's types say a web stream; it is a Node stream). */
  async #archive(file: string): Promise<Readable> {
    return (await this.#target.container.getArchive({ path: file })) as unknown as Readable;
  }

  async #download(changed: readonly string[], now: Manifest): Promise<void> {
    const { hostRoot, containerRoot } = this.#target;
    const staging = mkdtempSync(path.join(path.dirname(hostRoot), `.${path.basename(hostRoot)}-sync-`));
    try {
      const entries = changed.filter((rel) => !now.get(rel)?.startsWith("d:"));
      const whole = entries.length > PER_ENTRY_LIMIT;
      const base = path.posix.basename(containerRoot);
      if (whole) {
        await extractTar(await this.#archive(containerRoot), staging);
      } else {
        for (const [i, rel] of entries.entries()) {
          const into = path.join(staging, String(i));
          mkdirSync(into);
          await extractTar(await this.#archive(path.posix.join(containerRoot, rel)), into);
        }
      }
      for (const rel of changed) {
        if (!safeParents(hostRoot, rel, true)) continue;
        const destination = path.join(hostRoot, rel);
        const signature = now.get(rel) ?? "";
        const existing = lstatOptional(destination);
        if (signature.startsWith("d:")) {
          if (existing && !existing.isDirectory()) rmSync(destination, { force: true });
          if (!existing?.isDirectory()) mkdirSync(destination);
          chmodSync(destination, Number(signature.slice(2)) & 0o1777);
          continue;
        }
        const source = whole
          ? path.join(staging, base, rel)
          : path.join(staging, String(entries.indexOf(rel)), path.posix.basename(rel));
        if (!lstatOptional(source)) continue; // gone again between the listing and the download
        if (existing) rmSync(destination, { recursive: true, force: true });
        renameSync(source, destination);
      }
    } finally {
      rmSync(staging, { recursive: true, force: true });
    }
  }
}

export type WorkspaceTransfer = "mount" | "copy";

/** `ENTOURAGE_DOCKER_WORKSPACE`, checked: `mount`, `copy`, or unset. */
export function workspaceTransferFromEnv(
  env: NodeJS.ProcessEnv = process.env,
): WorkspaceTransfer | undefined {
  const value = env.ENTOURAGE_DOCKER_WORKSPACE?.trim();
  if (!value) return undefined;
  if (value === "mount" || value === "copy") return value;
  throw new UserError(
    "docker_workspace",
    `ENTOURAGE_DOCKER_WORKSPACE is "${value}": use mount (the engine sees this machine's files) or copy (the workspace travels through the Engine API).`,
  );
}
