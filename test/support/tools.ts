/** Test support for the file tools. Not used by the engine. */
import type { Sandbox } from "../../src/sandbox/index.ts";
import type { ToolContext } from "../../src/tools/tool.ts";
import type { Workspace } from "../../src/workspace/index.ts";

/**
 * A tool context over a real workspace. The sandbox is a stand-in, not a mock of behaviour: file
 * tools work host-side through the workspace and must never run anything, so it throws if touched.
 */
export function fileToolContext(workspace: Workspace, signal = new AbortController().signal): ToolContext {
  const sandbox = new Proxy({} as Sandbox, {
    get(_target, property) {
      throw new Error(`file tools must not use the sandbox (accessed sandbox.${String(property)})`);
    },
  });
  return { workspace, sandbox, signal };
}
