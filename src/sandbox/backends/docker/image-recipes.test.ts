import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { imageContentHash, mmdebstrapArgs } from "./image.ts";
import { chooseImage, detectRepoLanguages, IMAGE_RECIPES, resolveImageName } from "./image-recipes.ts";

const dirs: string[] = [];
const repoWith = (...files: string[]) => {
  const dir = mkdtempSync(path.join(tmpdir(), "entourage-recipes-"));
  dirs.push(dir);
  for (const file of files) writeFileSync(path.join(dir, file), "\n");
  return dir;
};
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe("docker images per language", () => {
  it("detects the repository's language from its root files", () => {
    assert.deepEqual(detectRepoLanguages(repoWith("package.json", "README.md")), [
      { language: "node", file: "package.json" },
    ]);
    assert.deepEqual(detectRepoLanguages(repoWith("requirements-dev.txt")), [
      { language: "python", file: "requirements-dev.txt" },
    ]);
    assert.deepEqual(
      detectRepoLanguages(repoWith("go.mod", "Cargo.toml", "setup.py")).map((d) => d.language),
      ["python", "go", "rust"],
    );
    assert.deepEqual(detectRepoLanguages(repoWith("Makefile")), []);
  });

  it("picks the matching image only when it is built, else the default, and says why", async () => {
    const repo = repoWith("pyproject.toml");
    const built =
      (...images: string[]) =>
      async (image: string) =>
        images.includes(image);
    assert.deepEqual(await chooseImage({ repo, isPresent: built(IMAGE_RECIPES.python.image) }), {
      image: "entourage/sandbox:bookworm-python",
      reason: "the repository has pyproject.toml",
    });
    const fallback = await chooseImage({ repo, isPresent: built() });
    assert.equal(fallback.image, "entourage/sandbox:bookworm");
    assert.match(
      fallback.reason,
      /pyproject\.toml → python.*not built.*entourage sandbox build-image python/,
    );
    // Several markers: the first whose image is built.
    const both = repoWith("package.json", "go.mod");
    assert.equal(
      (await chooseImage({ repo: both, isPresent: built(IMAGE_RECIPES.go.image) })).image,
      IMAGE_RECIPES.go.image,
    );
    const asked = await chooseImage({ requested: "rust", repo, isPresent: built() });
    assert.deepEqual(asked, { image: "entourage/sandbox:bookworm-rust", reason: "asked for" });
    const none = await chooseImage({ repo: repoWith(), isPresent: built(IMAGE_RECIPES.node.image) });
    assert.equal(none.image, IMAGE_RECIPES.base.image);
  });

  it("reads --image as a recipe name or a Docker reference", () => {
    assert.equal(resolveImageName("go"), "entourage/sandbox:bookworm-go");
    assert.equal(resolveImageName("base"), "entourage/sandbox:bookworm");
    assert.equal(resolveImageName("my/own:tag"), "my/own:tag");
  });

  it("gives each recipe its packages; only the default image gets the host's Node", () => {
    const args = mmdebstrapArgs({
      suite: "bookworm",
      mirror: "http://m",
      packages: IMAGE_RECIPES.rust.packages,
    });
    assert.ok(args.some((a) => a.startsWith("--include=") && a.includes(",cargo,rustc")));
    assert.ok(!args.some((a) => a.includes("/opt/node")), "no Node copied into a language image");
    assert.ok(IMAGE_RECIPES.python.packages.includes("python3-pytest"));
    assert.ok(IMAGE_RECIPES.node.packages.includes("nodejs") && IMAGE_RECIPES.node.packages.includes("npm"));
    assert.ok(IMAGE_RECIPES.go.packages.includes("golang-go"));
  });

  it("hashes what goes into an image: stable, and changed by packages, environment or the copied Node", () => {
    const hash = (over: Partial<Parameters<typeof imageContentHash>[0]> = {}) =>
      imageContentHash({
        suite: "bookworm",
        recipe: IMAGE_RECIPES.base,
        nodeVersion: "v24.1.0",
        npmVersion: "11.0.0",
        ...over,
      });
    assert.match(hash(), /^[0-9a-f]{64}$/);
    assert.equal(hash(), hash());
    assert.notEqual(hash(), hash({ nodeVersion: "v24.2.0" }));
    assert.notEqual(hash(), hash({ suite: "trixie" }));
    assert.notEqual(
      hash(),
      hash({ recipe: { ...IMAGE_RECIPES.base, packages: [...IMAGE_RECIPES.base.packages, "make"] } }),
    );
    const py = (env: Record<string, string>) =>
      imageContentHash({ suite: "bookworm", recipe: { ...IMAGE_RECIPES.python, env } });
    assert.notEqual(py({}), py({ PIP_NO_INDEX: "1" }));
    // A language image does not depend on the host's Node.
    const go = (nodeVersion: string) =>
      imageContentHash({ suite: "bookworm", recipe: IMAGE_RECIPES.go, nodeVersion });
    assert.equal(go("v24.1.0"), go("v22.0.0"));
  });
});
