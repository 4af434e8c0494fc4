// Bundles the CLI (src/cli/main.ts) and the plugin API (src/plugins/api.ts) with their pure-JavaScript
// dependencies into CommonJS modules in dist/cli/: a command loads a few files instead of ~900
// (docs/architecture.md, "The bundle"). CommonJS, not ES modules: Node's ES-module loader makes and parses a URL,
// a module record and a link step per file, and `require` does not; `runs` and `--help` 0.94–0.96× of their wall
// as ES modules. `.cjs`, since the package is "type": "module"; ES-module plugins import `entourage/plugin`
// (dist/cli/plugin.cjs) by name, as before. Each command stays its own chunk, loaded when it runs. Both entries share their chunks, so a
// plugin's `entourage/plugin` is the same zod and the same classes as the engine's.
import { rmSync } from "node:fs";
import { join } from "node:path";
import { build } from "rolldown";

const root = new URL("..", import.meta.url).pathname;
const out = join(root, "dist", "cli");

/**
 * Left to node_modules: packages that find files beside their own code at run time (ripgrep's binary,
 * graphile-worker's SQL migrations), load native add-ons (dockerode through ssh2), or require optional
 * modules by name (pg's pg-native). None is on a run's path to its first model request.
 */
const EXTERNAL = ["@vscode/ripgrep", "dockerode", "graphile-worker", "pg"];

// dist/ is the bundle and the texts copied beside it (scripts/copy-assets.ts, run next): nothing else.
rmSync(join(root, "dist"), { recursive: true, force: true });
const started = performance.now();
const result = await build({
  input: { main: join(root, "src/cli/main.ts"), plugin: join(root, "src/plugins/api.ts") },
  platform: "node",
  tsconfig: join(root, "tsconfig.json"),
  external: (id) => EXTERNAL.some((name) => id === name || id.startsWith(`${name}/`)),
  logLevel: "warn",
  output: {
    dir: out,
    format: "cjs",
    // Every chunk directly in dist/cli/: src/core/package-files.ts finds the package's texts from there.
    entryFileNames: "[name].cjs",
    chunkFileNames: "[name]-[hash].cjs",
    minify: false,
    sourcemap: false,
  },
});
const chunks = result.output.filter((o) => o.type === "chunk");
const bytes = chunks.reduce((sum, c) => sum + c.code.length, 0);
process.stdout.write(
  `bundled dist/cli/: ${chunks.length} chunks, ${(bytes / 1e6).toFixed(1)} MB in ${((performance.now() - started) / 1000).toFixed(1)} s\n`,
);
