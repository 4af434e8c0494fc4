/**
 * Where the package's own files are: the engine's texts (tool descriptions, role prompts: `.md` beside their
 * modules) and the folders beside the code (demo/, web/dist/). One module finds them for all, from its own
 * URL, so the code finds them however it runs: from source (src/core/ → the texts in src/), from the bundle
 * the package ships (its chunks sit in dist/cli/, the texts are copied into dist/ with src/'s layout by
 * scripts/copy-assets.ts). Both sit two folders below the package's root, which is what makes one rule work;
 * scripts/bundle.ts keeps every chunk directly in dist/cli/ for that reason (docs/architecture.md, "The bundle").
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** src/ (from source) or dist/ (the bundle): the root of the texts read at run time. */
const CODE_ROOT = new URL("../", import.meta.url);
const PACKAGE_ROOT = new URL("../../", import.meta.url);

/** A text shipped with the code, by its path under src/ (e.g. "tools/builtin/read-file.md"), trimmed. */
export function readPackageText(pathUnderSrc: string): string {
  return readFileSync(new URL(pathUnderSrc, CODE_ROOT), "utf8").trim();
}

/** A path in the package's root folder (a clone or an installed package), e.g. "web/dist/" or "demo/". */
export function packagePath(relative = ""): string {
  return fileURLToPath(new URL(relative, PACKAGE_ROOT));
}
