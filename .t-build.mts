import { sandboxBuildImageCommand } from "./src/cli/commands/sandbox-build-image.ts";
process.exitCode = await sandboxBuildImageCommand({ json: process.argv.includes("--json"), rebuild: process.argv.includes("--rebuild") });
