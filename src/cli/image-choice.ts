/**
 * Which image a docker-sandboxed run uses: the one asked for (`--image`, config `image`, API `image`), else
 * the language image matching the repository when it is built locally, else the default image. The rule is
 * the docker backend's (`image-recipes.ts`); here it meets the local daemon.
 */
export async function chooseDockerImage(
  requested: string | undefined,
  repo: string,
): Promise<{ image: string; reason: string }> {
  const { chooseImage } = await import("../sandbox/backends/docker/image-recipes.ts");
  const { connectDocker } = await import("../sandbox/backends/docker/client.ts");
  const { inspectImage } = await import("../sandbox/backends/docker/image.ts");
  const docker = await connectDocker();
  return chooseImage({
    requested,
    repo,
    isPresent: async (image) => (await inspectImage(docker, image).catch(() => undefined)) !== undefined,
  });
}
