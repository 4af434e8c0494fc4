import { createSubprocessBackend } from "../../src/sandbox/backends/index.ts";
import { runSandboxConformance } from "../../src/sandbox/sandbox.conformance.ts";

runSandboxConformance("subprocess", () => createSubprocessBackend(), { isolated: false });
