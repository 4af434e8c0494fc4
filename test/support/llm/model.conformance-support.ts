/**
 * Fixtures and stream helpers of the Model conformance suite (model.conformance.ts), shared with the
 * adapter's own tests: a request with tools, reading a stream to its end, turning a hang into a failure.
 */
import type { ModelPart, ModelRequest, ModelToolSpec } from "../../../src/llm/model.ts";

export const readFileTool: ModelToolSpec = {
  name: "read_file",
  description: "Read a file of the workspace.",
  inputSchema: {
    type: "object",
    properties: {
      path: { type: "string", description: "Path relative to the workspace" },
      lines: {
        type: "object",
        properties: { from: { type: "integer" }, to: { type: "integer" } },
        required: ["from", "to"],
      },
    },
    required: ["path"],
    additionalProperties: false,
  },
};
export const runCommandTool: ModelToolSpec = {
  name: "run_command",
  description: "Run a shell command in the sandbox.",
  inputSchema: {
    type: "object",
    properties: { command: { type: "string" }, timeoutSeconds: { type: "number", minimum: 1 } },
    required: ["command"],
    additionalProperties: false,
  },
};

export function request(overrides: Partial<ModelRequest> = {}): ModelRequest {
  return {
    system: "You are a careful coding agent.",
    messages: [{ role: "user", content: "Fix the failing test." }],
    tools: [readFileTool],
    ...overrides,
  };
}

export async function collect(parts: AsyncIterable<ModelPart>): Promise<ModelPart[]> {
  const out: ModelPart[] = [];
  for await (const part of parts) out.push(part);
  return out;
}

/** Runs the stream to its end and returns the parts seen and what it threw. */
export async function settle(
  parts: AsyncIterable<ModelPart>,
): Promise<{ parts: ModelPart[]; error: unknown }> {
  const out: ModelPart[] = [];
  try {
    for await (const part of parts) out.push(part);
    return { parts: out, error: undefined };
  } catch (error) {
    return { parts: out, error };
  }
}

export const textOf = (parts: readonly ModelPart[]) =>
  parts.map((p) => (p.type === "text-delta" ? p.text : p.type === "retry" ? "|retry|" : "")).join("");
export const callsOf = (parts: readonly ModelPart[]) => parts.filter((p) => p.type === "tool-call");
export const retriesOf = (parts: readonly ModelPart[]) => parts.filter((p) => p.type === "retry");

/** The frame count that ends right after the first frame matching `needle` (for stall/cut/end faults). */
export function framesThrough(frames: string[], ...needles: string[]): number {
  for (const needle of needles) {
    const i = frames.findIndex((f) => f.includes(needle));
    if (i >= 0) return i + 1;
  }
  throw new Error(`no frame of the encoded answer contains any of ${JSON.stringify(needles)}`);
}

/** `text` as it appears inside a JSON string of a frame. */
export const inJson = (text: string) => JSON.stringify(text).slice(1, -1);

/** Fails instead of hanging: the port promises an aborted stream ends; this only turns a hang into a failure. */
export async function withinOrHang<T>(promise: Promise<T>, what: string, ms = 10_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} still had not ended after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, hang]);
  } finally {
    clearTimeout(timer);
  }
}

export async function until(predicate: () => boolean, what: string): Promise<void> {
  await withinOrHang(
    (async () => {
      while (!predicate()) await new Promise((resolve) => setTimeout(resolve, 5));
    })(),
    what,
  );
}
