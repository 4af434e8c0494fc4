/**
 * The docker backend's images: the default one and one per language, each built locally from Debian
 * packages (see `image.ts`), and the rule that picks one for a repository.
 *
 * | name     | image                               | adds to the base system                     |
 * |----------|-------------------------------------|---------------------------------------------|
 * | base     | entourage/sandbox:bookworm          | the Node (and npm) Entourage runs on        |
 * | node     | entourage/sandbox:bookworm-node     | Debian's nodejs + npm                       |
 * | python   | entourage/sandbox:bookworm-python   | python3-pytest, python3-venv, python3-pip   |
 * | go       | entourage/sandbox:bookworm-go       | golang-go                                   |
 * | rust     | entourage/sandbox:bookworm-rust     | cargo + rustc                               |
 *
 * Every image has the base system (git, python3, bash, coreutils, procps, …) and the sandbox user. The
 * containers have no network, so the toolchains are told so up front (GOPROXY=off, CARGO_NET_OFFLINE,
 * PIP_NO_INDEX): a missing dependency fails at once with the tool's own message instead of waiting on DNS.
 */
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { DEFAULT_SANDBOX_IMAGE } from "./client.ts";

export type ImageLanguage = "node" | "python" | "go" | "rust";
export type ImageRecipeName = "base" | ImageLanguage;

export const IMAGE_LANGUAGES: readonly ImageLanguage[] = ["node", "python", "go", "rust"];
export const IMAGE_RECIPE_NAMES: readonly ImageRecipeName[] = ["base", ...IMAGE_LANGUAGES];

/** Debian packages of every image. */
export const BASE_PACKAGES = [
  "git",
  "python3",
  "ca-certificates",
  "procps",
  "bash",
  "coreutils",
  "findutils",
  "grep",
  "sed",
];

export interface ImageRecipe {
  /** A sandbox image's name, or `runtime`: the team deployment's own image (not a sandbox). */
  name: ImageRecipeName | "runtime";
  /** Image name (repo:tag) the build produces. */
  image: string;
  /** Debian packages, the base ones included. */
  packages: string[];
  /** Copy in the Node (and npm) Entourage runs on (the default image: `node --test` on the host's version). */
  hostNode: boolean;
  /** `ENV` of the image; commands inherit it (their own PATH, HOME, LANG come from the sandbox). */
  env: Record<string, string>;
  /** What it is for, for help and messages. */
  description: string;
}

/** A sandbox image's recipe: one `--image` can name. */
export type SandboxImageRecipe = ImageRecipe & { name: ImageRecipeName };

const BOOKWORM = DEFAULT_SANDBOX_IMAGE;

export const IMAGE_RECIPES: Record<ImageRecipeName, SandboxImageRecipe> = {
  base: {
    name: "base",
    image: BOOKWORM,
    packages: BASE_PACKAGES,
    hostNode: true,
    env: {},
    description: "the default: git, python3 and the Node Entourage runs on",
  },
  node: {
    name: "node",
    image: `${BOOKWORM}-node`,
    packages: [...BASE_PACKAGES, "nodejs", "npm"],
    hostNode: false,
    env: { npm_config_offline: "true", npm_config_update_notifier: "false" },
    description: "JavaScript/TypeScript: Debian's nodejs and npm",
  },
  python: {
    name: "python",
    image: `${BOOKWORM}-python`,
    packages: [...BASE_PACKAGES, "python3-pytest", "python3-venv", "python3-pip"],
    hostNode: false,
    env: { PIP_NO_INDEX: "1", PYTHONDONTWRITEBYTECODE: "1" },
    description: "Python: python3 with pytest, venv and pip",
  },
  go: {
    name: "go",
    image: `${BOOKWORM}-go`,
    packages: [...BASE_PACKAGES, "golang-go"],
    hostNode: false,
    env: { GOPROXY: "off", GOTOOLCHAIN: "local", GOFLAGS: "-buildvcs=false" },
    description: "Go: Debian's golang-go",
  },
  rust: {
    name: "rust",
    image: `${BOOKWORM}-rust`,
    packages: [...BASE_PACKAGES, "cargo", "rustc"],
    hostNode: false,
    env: { CARGO_NET_OFFLINE: "true" },
    description: "Rust: Debian's cargo and rustc",
  },
};

/**
 * The team deployment's runtime (compose.yaml): the base system, PostgreSQL 15 and the Node Entourage runs on.
 * `entourage deploy build-image` puts the application on top of it. Not a sandbox image: agents' commands never
 * run in it.
 */
export const RUNTIME_RECIPE: ImageRecipe = {
  name: "runtime",
  image: "entourage/runtime:bookworm",
  packages: [...BASE_PACKAGES, "postgresql-15", "util-linux"],
  hostNode: true,
  env: {},
  description: "the team deployment's server, workers and PostgreSQL",
};

/** The recipe called `name`, or undefined. */
export function imageRecipe(name: string): SandboxImageRecipe | undefined {
  return (IMAGE_RECIPE_NAMES as readonly string[]).includes(name)
    ? IMAGE_RECIPES[name as ImageRecipeName]
    : undefined;
}

/**
 * What `--image NAME` means: a recipe name (`node`, `python`, `go`, `rust`, `base`) is that image; anything
 * else is a Docker image reference used as it is.
 */
export function resolveImageName(name: string): string {
  return imageRecipe(name)?.image ?? name;
}

/** Files at a repository's root that say which language image fits it, in the order they are tried. */
const MARKERS: readonly { language: ImageLanguage; matches: (file: string) => boolean }[] = [
  { language: "node", matches: (f) => f === "package.json" },
  {
    language: "python",
    matches: (f) => f === "pyproject.toml" || f === "setup.py" || /^requirements.*\.txt$/.test(f),
  },
  { language: "go", matches: (f) => f === "go.mod" },
  { language: "rust", matches: (f) => f === "Cargo.toml" },
];

/** The languages a repository's root files point to, each with the file that says so, in marker order. */
export function detectRepoLanguages(repo: string): { language: ImageLanguage; file: string }[] {
  let files: string[];
  try {
    files = readdirSync(repo).sort();
  } catch {
    return [];
  }
  const found: { language: ImageLanguage; file: string }[] = [];
  for (const marker of MARKERS) {
    const file = files.find((f) => marker.matches(f) && existsSync(path.join(repo, f)));
    if (file) found.push({ language: marker.language, file });
  }
  return found;
}

export interface ImageChoice {
  /** The image reference the container runs. */
  image: string;
  /** Why this one, in a short phrase for the terminal header and logs. */
  reason: string;
}

/**
 * The image for a run on `repo`: the one asked for (`--image`, config `image`, API `image`), else the
 * language image that matches the repository's files when it is built locally (`isPresent`), else the
 * default image — with the reason, naming the build command when a matching image is missing.
 */
export async function chooseImage(input: {
  requested?: string;
  repo: string;
  isPresent: (image: string) => Promise<boolean>;
}): Promise<ImageChoice> {
  if (input.requested) {
    const image = resolveImageName(input.requested);
    return { image, reason: "asked for" };
  }
  const detected = detectRepoLanguages(input.repo);
  const missing: string[] = [];
  for (const { language, file } of detected) {
    const image = IMAGE_RECIPES[language].image;
    if (await input.isPresent(image)) return { image, reason: `the repository has ${file}` };
    missing.push(`${file} → ${language}`);
  }
  if (missing.length > 0) {
    const languages = detected.map((d) => d.language).join(" ");
    return {
      image: IMAGE_RECIPES.base.image,
      reason: `the default: the repository has ${missing.join(", ")} but that image is not built (entourage sandbox build-image ${languages})`,
    };
  }
  return { image: IMAGE_RECIPES.base.image, reason: "the default: no language marker in the repository" };
}
