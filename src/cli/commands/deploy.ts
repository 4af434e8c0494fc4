import { reportError } from "../terminal/exit.ts";

/**
 * `entourage deploy build-image`: builds the team deployment's images locally (compose.yaml): the runtime
 * (Debian, PostgreSQL, Node), the application on it (`entourage/entourage:<version>` and `:latest`) and the
 * sandbox image the workers run commands in. Each is kept when its content hash matches, unless `--rebuild`.
 */
export async function deployBuildImageCommand(opts: { rebuild?: boolean; json?: boolean }): Promise<number> {
  try {
    const { buildDeployImage } = await import("../deploy-image.ts");
    const { formatSize } = await import("../../sandbox/backends/docker/image.ts");
    const controller = new AbortController();
    const onSignal = () => controller.abort();
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
    const result = await buildDeployImage({
      rebuild: opts.rebuild,
      onProgress: (line) => process.stderr.write(`${line}\n`),
      signal: controller.signal,
    }).finally(() => {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    });
    if (opts.json) {
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      return 0;
    }
    const id = result.id.slice(7, 19);
    process.stdout.write(
      `${result.image} ${result.built ? `built: ${id}, ${formatSize(result.sizeBytes)}, ${(result.durationMs / 1000).toFixed(1)} s` : `is up to date (${id}, ${formatSize(result.sizeBytes)})`}; also tagged :latest.\n` +
        `runtime ${result.runtime.image} ${result.runtime.built ? "built" : "up to date"}; sandbox ${result.sandbox.image} ${result.sandbox.built ? "built" : "up to date"}.\n` +
        "Start the team deployment: see README, Team deployment (docker-compose up -d).\n",
    );
    return 0;
  } catch (error) {
    return reportError(error);
  }
}
