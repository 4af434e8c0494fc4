import { UserError } from "../../core/errors.ts";
import { reportError } from "../terminal/exit.ts";

/**
 * `entourage sandbox build-image [base|node|python|go|rust|all]`: builds the docker backend's images locally
 * (mmdebstrap | docker import). An image whose content hash matches the recipe is kept unless `--rebuild`.
 * Progress goes to stderr; the result (a line per image, or JSON with `--json`) to stdout.
 */
export async function sandboxBuildImageCommand(opts: {
  which?: string;
  image?: string;
  rebuild?: boolean;
  json?: boolean;
}): Promise<number> {
  try {
    const { buildSandboxImage, formatSize } = await import("../../sandbox/backends/docker/image.ts");
    const { IMAGE_RECIPE_NAMES, imageRecipe } = await import(
      "../../sandbox/backends/docker/image-recipes.ts"
    );
    const which = opts.which ?? "base";
    const recipes = which === "all" ? [...IMAGE_RECIPE_NAMES] : [imageRecipe(which)?.name];
    if (recipes.some((r) => r === undefined))
      throw new UserError(
        "unknown_image",
        `No image recipe "${which}": use one of ${IMAGE_RECIPE_NAMES.join(", ")}, or all.`,
      );
    if (opts.image && recipes.length > 1)
      throw new UserError(
        "image_name_with_all",
        "--image names one image: give it with one recipe, not all.",
      );
    const results = [];
    // Ctrl-C or a kill stops mmdebstrap too (it would go on building as an orphan).
    const controller = new AbortController();
    const onSignal = () => controller.abort();
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
    for (const recipe of recipes) {
      const result = await buildSandboxImage({
        recipe,
        image: opts.image,
        rebuild: opts.rebuild,
        onProgress: (line) => process.stderr.write(`${line}\n`),
        signal: controller.signal,
      }).finally(() => {
        if (recipe === recipes.at(-1)) {
          process.off("SIGINT", onSignal);
          process.off("SIGTERM", onSignal);
        }
      });
      results.push(result);
      if (opts.json) continue;
      const id = result.id.slice(7, 19);
      process.stdout.write(
        result.built
          ? `${result.image} built: ${id}, ${formatSize(result.sizeBytes)}, ${(result.durationMs / 1000).toFixed(1)} s. Use it with --sandbox docker${result.recipe === "base" ? "" : ` --image ${result.recipe}`}.\n`
          : `${result.image} is up to date (${id}, ${formatSize(result.sizeBytes)}); nothing to do. Pass --rebuild to build it again.\n`,
      );
    }
    if (opts.json)
      process.stdout.write(`${JSON.stringify(results.length === 1 ? results[0] : results, null, 2)}\n`);
    return 0;
  } catch (error) {
    return reportError(error);
  }
}
