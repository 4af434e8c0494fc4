/**
 * Builds the docker backend's images locally, with no registry: a minimal Debian made by mmdebstrap,
 * streamed as a tarball into the Engine API's import (`docker import`). One pipeline, one layer. The
 * recipes (default image, node, python, go, rust) are in `image-recipes.ts`; the default one also gets the
 * Node runtime Entourage itself runs on (the real file behind `process.execPath`) and npm, copied in by
 * mmdebstrap hooks.
 *
 * Every image holds: git, python3, bash, coreutils, findutils, grep, sed, procps, ca-certificates,
 * util-linux (setsid, prlimit: essential in minbase), the recipe's packages, and a passwd entry for the
 * default sandbox uid (65532, `entourage`, HOME /tmp/home). The default image has Node at /opt/node/bin
 * (also linked from /usr/local/bin, so `#!/usr/bin/env node` works with the sandbox's default PATH).
 *
 * Content hash. An image is labelled (`dev.entourage.recipe`) and tagged (`<tag>-<hash12>`) with the hash
 * of what went into it (suite, packages, hooks, environment, the Node and npm versions copied in): a build
 * whose hash matches the present image is skipped, so `build-image` is cheap when nothing changed and
 * rebuilds by itself when the recipe or the host's Node did. A rebuild imports under a temporary tag first
 * and moves the name only when the new image is complete, so a failed build never leaves a broken image.
 */
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { existsSync, readFileSync, realpathSync } from "node:fs";
import { cp, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import type Docker from "dockerode";
import { errorMessage, SystemError, UserError } from "../../../core/index.ts";
import { findExecutable } from "../shared/find-executable.ts";
import {
  connectDocker,
  type DockerConnection,
  isNotFound,
  LABEL_IMAGE_NODE,
  LABEL_IMAGE_RECIPE,
  LABEL_SANDBOX,
  pingDocker,
} from "./client.ts";
import { BASE_PACKAGES, IMAGE_RECIPES, type ImageRecipe, type ImageRecipeName } from "./image-recipes.ts";

/** The default image's Debian packages. */
export const IMAGE_PACKAGES = BASE_PACKAGES;
export const IMAGE_PATH = "/opt/node/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/** The uid/gid the image names `entourage` (the backend's default sandbox user when Entourage runs as root). */
export const IMAGE_SANDBOX_USER = { uid: 65532, gid: 65532, name: "entourage", home: "/tmp/home" };
const DEFAULT_MIRROR = "http://deb.debian.org/debian";

export interface BuildImageOptions {
  /** Which image: `base` (default), `node`, `python`, `go` or `rust` (see `image-recipes.ts`), or a recipe itself. */
  recipe?: ImageRecipeName | ImageRecipe;
  /** Image name. Default: the recipe's (`entourage/sandbox:bookworm`, `…:bookworm-python`, …). */
  image?: string;
  /** Build even when an image with the same content hash exists (replaced only once the new one is complete). */
  rebuild?: boolean;
  docker?: DockerConnection;
  /** Debian suite. Default bookworm. */
  suite?: string;
  /** Debian mirror. Default: the host's apt sources, else deb.debian.org. */
  mirror?: string;
  /** The Node binary copied in. Default: the real file behind `process.execPath`. */
  nodeBinary?: string;
  /** npm's package directory copied in; `null` for none. Default: found next to Node or in /usr/lib. */
  npmDir?: string | null;
  /** Progress lines (no trailing newline). */
  onProgress?: (line: string) => void;
  signal?: AbortSignal;
}

export interface BuildImageResult {
  image: string;
  recipe: ImageRecipe["name"];
  /** False when an existing image with the same content hash was kept. */
  built: boolean;
  id: string;
  /** The content hash (sha256 hex) of the recipe the image was built from. */
  contentHash: string;
  sizeBytes: number;
  durationMs: number;
  node?: string;
  npm?: string;
  mirror?: string;
}

/** The Debian mirror of the host's apt sources (deb822 `debian.sources` or `sources.list`) for `suite`. */
export function readDebianMirror(
  suite = "bookworm",
  files = ["/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"],
): string | undefined {
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue;
    }
    const found = file.endsWith(".sources") ? mirrorFromDeb822(text, suite) : mirrorFromList(text, suite);
    if (found) return found;
  }
  return undefined;
}

export function mirrorFromDeb822(text: string, suite: string): string | undefined {
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    for (const line of stanza.split("\n")) {
      const match = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
      if (match && !line.startsWith("#")) fields.set(match[1]!.toLowerCase(), match[2]!.trim());
    }
    if (!(fields.get("types") ?? "").split(/\s+/).includes("deb")) continue;
    if (fields.get("enabled")?.toLowerCase() === "no") continue;
    if (!(fields.get("suites") ?? "").split(/\s+/).includes(suite)) continue;
    const uri = (fields.get("uris") ?? "").split(/\s+/).find((u) => /^https?:\/\//.test(u));
    if (uri) return uri;
  }
  return undefined;
}

export function mirrorFromList(text: string, suite: string): string | undefined {
  for (const raw of text.split("\n")) {
    const line = raw.replace(/#.*/, "").trim();
    // deb [options] uri suite components…
    const match = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(line);
    if (match && match[2] === suite && /^https?:\/\//.test(match[1]!)) return match[1];
  }
  return undefined;
}

/** mmdebstrap's arguments: the base system, the recipe's packages, Node and npm (default image), the sandbox user; the tarball goes to stdout. */
export function mmdebstrapArgs(input: {
  suite: string;
  mirror: string;
  /** Copied in at /opt/node/bin/node (the default image); none for the language images. */
  nodeBinary?: string;
  npmDir?: string;
  packages?: string[];
}): string[] {
  for (const file of [input.nodeBinary, input.npmDir]) {
    if (file !== undefined && !SAFE_PATH.test(file))
      throw new Error(`unsafe path for an mmdebstrap hook: ${file}`);
  }
  const user = IMAGE_SANDBOX_USER;
  const hooks = ['mkdir -p "$1/workspace"'];
  if (input.nodeBinary !== undefined) {
    hooks.push(
      'mkdir -p "$1/opt/node/bin" "$1/opt/node/lib/node_modules"',
      `upload ${input.nodeBinary} /opt/node/bin/node`,
      'chmod 0755 "$1/opt/node/bin/node" && ln -sf /opt/node/bin/node "$1/usr/local/bin/node"',
    );
    if (input.npmDir !== undefined) {
      hooks.push(
        `copy-in ${input.npmDir} /opt/node/lib/node_modules`,
        'for t in npm npx; do ln -sf "../lib/node_modules/npm/bin/$t-cli.js" "$1/opt/node/bin/$t" && ln -sf "/opt/node/bin/$t" "$1/usr/local/bin/$t"; done',
      );
    }
  }
  hooks.push(
    `echo '${user.name}:x:${user.uid}:${user.gid}:Entourage sandbox:${user.home}:/bin/bash' >> "$1/etc/passwd"`,
    `echo '${user.name}:x:${user.gid}:' >> "$1/etc/group"`,
  );
  return [
    "--variant=minbase",
    `--include=${(input.packages ?? IMAGE_PACKAGES).join(",")}`,
    // Documentation and translations are of no use to an agent: ≈ 30 MB less.
    "--dpkgopt=path-exclude=/usr/share/man/*",
    "--dpkgopt=path-exclude=/usr/share/doc/*",
    "--dpkgopt=path-include=/usr/share/doc/*/copyright",
    "--dpkgopt=path-exclude=/usr/share/info/*",
    "--dpkgopt=path-exclude=/usr/share/locale/*",
    ...hooks.map((hook) => `--customize-hook=${hook}`),
    input.suite,
    "-",
    input.mirror,
  ];
}

/**
 * The content hash of an image: everything that decides what is in it except where the packages come from
 * (the mirror) and where the host keeps its Node (paths): suite, packages, hooks, environment, user, the
 * Node and npm versions copied in.
 */
export function imageContentHash(input: {
  suite: string;
  recipe: ImageRecipe;
  nodeVersion?: string;
  npmVersion?: string;
}): string {
  const args = mmdebstrapArgs({
    suite: input.suite,
    mirror: "MIRROR",
    nodeBinary: input.recipe.hostNode ? "/NODE" : undefined,
    npmDir: input.recipe.hostNode && input.npmVersion ? "/NPM" : undefined,
    packages: input.recipe.packages,
  });
  const recipe = {
    format: 1,
    args,
    changes: importChanges({}, input.recipe.env),
    node: input.recipe.hostNode ? input.nodeVersion : undefined,
    npm: input.recipe.hostNode ? input.npmVersion : undefined,
  };
  return createHash("sha256").update(JSON.stringify(recipe)).digest("hex");
}

/** The `docker import --change` instructions. */
export function importChanges(labels: Record<string, string>, env: Record<string, string> = {}): string[] {
  return [
    `ENV PATH=${IMAGE_PATH}`,
    ...Object.entries(env).map(([key, value]) => `ENV ${key}=${value}`),
    "WORKDIR /workspace",
    ...Object.entries(labels).map(([key, value]) => `LABEL ${key}=${JSON.stringify(value)}`),
  ];
}

const SAFE_PATH = /^\/[A-Za-z0-9._/+@-]+$/;

/**
 * Builds the sandbox image of `recipe` (default: the base image), or keeps the present one when its content
 * hash matches. Throws UserError when Docker or mmdebstrap is missing.
 */
export async function buildSandboxImage(options: BuildImageOptions = {}): Promise<BuildImageResult> {
  const started = performance.now();
  const progress = options.onProgress ?? (() => {});
  const recipe =
    typeof options.recipe === "object" ? options.recipe : IMAGE_RECIPES[options.recipe ?? "base"];
  const image = options.image ?? recipe.image;
  const { repo, tag } = splitImageName(image);
  const docker = await connectDocker(options.docker);

  const ping = await pingDocker(docker);
  if (!ping.ok) throw new UserError("docker_unavailable", `Cannot build the sandbox image: ${ping.reason}.`);
  progress(`Docker ${ping.version.Version} (API ${ping.version.ApiVersion})`);

  const suite = options.suite ?? "bookworm";
  const nodeBinary = recipe.hostNode ? realpathSync(options.nodeBinary ?? process.execPath) : undefined;
  const nodeVersion = !nodeBinary
    ? undefined
    : options.nodeBinary === undefined
      ? process.version
      : await commandOutput(nodeBinary, ["--version"]);
  const npmDir = !nodeBinary || options.npmDir === null ? undefined : (options.npmDir ?? findNpm(nodeBinary));
  const npmVersion = npmDir ? readPackageVersion(npmDir) : undefined;
  const contentHash = imageContentHash({ suite, recipe, nodeVersion, npmVersion });

  const existing = await inspectImage(docker, image);
  const existingHash = existing?.Config?.Labels?.[LABEL_IMAGE_RECIPE];
  if (existing && existingHash === contentHash && !options.rebuild) {
    progress(
      `${image} is up to date (content ${contentHash.slice(0, 12)}, ${formatSize(existing.Size)}); pass --rebuild to build it again`,
    );
    return {
      image,
      recipe: recipe.name,
      built: false,
      id: existing.Id,
      contentHash,
      sizeBytes: existing.Size,
      durationMs: Math.round(performance.now() - started),
      node: existing.Config?.Labels?.[LABEL_IMAGE_NODE],
    };
  }
  if (existing && !options.rebuild) {
    progress(
      `${image} is out of date (content ${existingHash?.slice(0, 12) ?? "unlabelled"}, the recipe is now ${contentHash.slice(0, 12)}): building it again`,
    );
  }

  const mmdebstrap = findExecutable("mmdebstrap");
  if (!mmdebstrap) {
    throw new UserError(
      "mmdebstrap_missing",
      "Building the sandbox image needs mmdebstrap, which is not installed: apt-get install mmdebstrap " +
        "(Debian/Ubuntu; it makes the minimal Debian system the image is built from, no registry needed).",
    );
  }
  const mirror = options.mirror ?? readDebianMirror(suite) ?? DEFAULT_MIRROR;

  const staging = await mkdtemp(path.join(tmpdir(), "entourage-image-"));
  const tempTag = `build-${randomBytes(4).toString("hex")}`;
  try {
    // mmdebstrap's special hooks split on whitespace: copy oddly named inputs to a plain path first.
    const safeNode =
      nodeBinary === undefined || SAFE_PATH.test(nodeBinary)
        ? nodeBinary
        : await stage(nodeBinary, staging, "node");
    const safeNpm = npmDir && !SAFE_PATH.test(npmDir) ? await stage(npmDir, staging, "npm") : npmDir;
    const args = mmdebstrapArgs({
      suite,
      mirror,
      nodeBinary: safeNode,
      npmDir: safeNpm,
      packages: recipe.packages,
    });
    const labels: Record<string, string> = {
      [LABEL_SANDBOX]: "image",
      [LABEL_IMAGE_RECIPE]: contentHash,
      "dev.entourage.image": recipe.name,
    };
    if (nodeVersion) labels[LABEL_IMAGE_NODE] = nodeVersion;
    if (npmVersion) labels["dev.entourage.npm"] = npmVersion;

    const extras = recipe.hostNode
      ? `Node ${nodeVersion}${npmVersion ? `, npm ${npmVersion}` : ""}`
      : recipe.packages.filter((p) => !IMAGE_PACKAGES.includes(p)).join(", ");
    progress(`Building ${image}: Debian ${suite} from ${mirror} with mmdebstrap, ${extras}`);
    const id = await pipeIntoImport(docker, mmdebstrap, args, {
      repo,
      tag: tempTag,
      changes: importChanges(labels, recipe.env),
      progress,
      signal: options.signal,
    });

    const hashTag = `${tag}-${contentHash.slice(0, 12)}`;
    await docker.getImage(id).tag({ repo, tag });
    await docker.getImage(id).tag({ repo, tag: hashTag });
    await docker
      .getImage(`${repo}:${tempTag}`)
      .remove({ noprune: true })
      .catch(() => {});
    if (existing && existing.Id !== id) {
      // The old image: its content-hash tag goes, then the image itself unless a container still uses it.
      for (const old of existing.RepoTags ?? []) {
        if (old !== image && old !== `${repo}:${hashTag}`)
          await docker
            .getImage(old)
            .remove({ noprune: true })
            .catch(() => {});
      }
      await docker
        .getImage(existing.Id)
        .remove()
        .catch(() => {});
    }
    const built = await inspectImage(docker, image);
    const durationMs = Math.round(performance.now() - started);
    progress(`Built ${image} (${formatSize(built?.Size ?? 0)}) in ${(durationMs / 1000).toFixed(1)} s`);
    return {
      image,
      recipe: recipe.name,
      built: true,
      id,
      contentHash,
      sizeBytes: built?.Size ?? 0,
      durationMs,
      node: nodeVersion,
      npm: npmVersion,
      mirror,
    };
  } catch (error) {
    await docker
      .getImage(`${repo}:${tempTag}`)
      .remove()
      .catch(() => {});
    throw error;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** Runs mmdebstrap and streams its stdout into the Engine API's image import. Returns the image id. */
async function pipeIntoImport(
  docker: Docker,
  mmdebstrap: string,
  args: string[],
  opts: {
    repo: string;
    tag: string;
    changes: string[];
    progress: (line: string) => void;
    signal?: AbortSignal;
  },
): Promise<string> {
  const child = spawn(mmdebstrap, args, { stdio: ["ignore", "pipe", "pipe"] });
  const tail: string[] = [];
  createInterface({ input: child.stderr }).on("line", (line) => {
    tail.push(line);
    if (tail.length > 20) tail.shift();
    opts.progress(`  mmdebstrap: ${line}`);
  });
  const onAbort = () => child.kill("SIGKILL");
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  const exited = new Promise<{ code: number | null; error?: Error }>((resolve) => {
    child.on("error", (error) => resolve({ code: null, error }));
    child.on("close", (code) => resolve({ code }));
  });

  let importError: unknown;
  let id: string | undefined;
  try {
    // mmdebstrap writes the tarball only once the system is installed (minutes for a toolchain on a busy
    // machine): the import request starts with its first byte, so no connection idles that long.
    await Promise.race([once(child.stdout, "readable"), exited]);
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error("mmdebstrap produced no tarball");
    const response = await docker.importImage(child.stdout, {
      repo: opts.repo,
      tag: opts.tag,
      changes: opts.changes,
      message: "entourage sandbox build-image",
    });
    for await (const line of createInterface({ input: response as NodeJS.ReadableStream as never })) {
      if (!line.trim()) continue;
      let message: { status?: string; error?: string; errorDetail?: { message?: string } };
      try {
        message = JSON.parse(line);
      } catch {
        continue;
      }
      if (message.error || message.errorDetail)
        throw new Error(message.errorDetail?.message ?? message.error);
      if (message.status?.startsWith("sha256:")) id = message.status;
    }
  } catch (error) {
    importError = error;
    child.kill("SIGKILL");
  }
  const exit = await exited;
  opts.signal?.removeEventListener("abort", onAbort);
  if (opts.signal?.aborted) throw new UserError("image_build_aborted", "The image build was aborted.");
  if (importError && !opts.signal?.aborted && (exit.code === null || exit.code === 0) && !exit.error) {
    // Killed by us because the import failed: the import's error is the one to tell.
    throw new SystemError(
      "image_build",
      `Docker could not import the image: ${errorMessage(importError)}\n${tail.join("\n")}`,
      { cause: importError },
    );
  }
  if (exit.error || exit.code !== 0) {
    throw new SystemError(
      "image_build",
      `mmdebstrap failed (${exit.error ? errorMessage(exit.error) : `exit ${exit.code}`}):\n${tail.join("\n")}`,
    );
  }
  if (importError || !id) {
    throw new SystemError(
      "image_build",
      `Docker could not import the image: ${importError ? errorMessage(importError) : "no image id in the answer"}`,
      { cause: importError },
    );
  }
  return id;
}

export async function inspectImage(
  docker: Docker,
  image: string,
): Promise<Docker.ImageInspectInfo | undefined> {
  try {
    return await docker.getImage(image).inspect();
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

export function splitImageName(image: string): { repo: string; tag: string } {
  const slash = image.lastIndexOf("/");
  const colon = image.lastIndexOf(":");
  if (colon > slash) return { repo: image.slice(0, colon), tag: image.slice(colon + 1) };
  return { repo: image, tag: "latest" };
}

/** npm next to Node (official tarball layout), else the system's. */
export function findNpm(nodeBinary: string): string | undefined {
  const candidates = [
    path.join(path.dirname(nodeBinary), "..", "lib", "node_modules", "npm"),
    "/usr/local/lib/node_modules/npm",
    "/usr/lib/node_modules/npm",
  ];
  for (const dir of candidates) {
    if (existsSync(path.join(dir, "bin", "npm-cli.js"))) return realpathSync(dir);
  }
  return undefined;
}

function readPackageVersion(dir: string): string | undefined {
  try {
    return (JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

async function stage(source: string, dir: string, name: string): Promise<string> {
  const dest = path.join(dir, name);
  await cp(source, dest, { recursive: true, dereference: false });
  return dest;
}

function commandOutput(file: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (data: Buffer) => {
      out += data.toString();
    });
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0 ? resolve(out.trim()) : reject(new Error(`${file} exited ${code}`)),
    );
  });
}

export function formatSize(bytes: number): string {
  return `${(bytes / 1e6).toFixed(0)} MB`;
}
