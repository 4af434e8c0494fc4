import { reportError } from "../main.ts";

/**
 * `entourage sandbox build-image`: builds the docker backend's image locally (mmdebstrap | docker import,
 * with this Node and npm copied in). Keeps an existing image unless `--rebuild`. Progress goes to stderr;
 * the result (a line, or JSON with `--json`) to stdout.
 */
export async function sandboxBuildImageCommand(opts: {
  image?: string;
  rebuild?: boolean;
  json?: boolean;
}): Promise<number> {
  try {
    const { buildSandboxImage, formatSize } = await import("../../sandbox/backends/docker/image.ts");
    const result = await buildSandboxImage({
      image: opts.image,
      rebuild: opts.rebuild,
      onProgress: (line) => process.stderr.write(`${line}\n`),
    });
    if (opts.json) {
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    } else if (result.built) {
      process.stdout.write(
        `${result.image} built: ${result.id.slice(7, 19)}, ${formatSize(result.sizeBytes)}, ${(result.durationMs / 1000).toFixed(1)} s. Use it with --sandbox docker.\n`,
      );
    } else {
      process.stdout.write(
        `${result.image} is present (${result.id.slice(7, 19)}, ${formatSize(result.sizeBytes)}); nothing to do. Pass --rebuild to build it again.\n`,
      );
    }
    return 0;
  } catch (error) {
    return reportError(error);
  }
}
