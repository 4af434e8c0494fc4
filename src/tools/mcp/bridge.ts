/**
 * The MCP bridge: connects to the MCP servers a user configured (stdio or streamable HTTP, through the
 * official SDK) and turns their tools into Entourage tools named `<server>__<tool>`. The servers run
 * outside the sandbox, as the user: they are the user's own configured tools. A server that fails to
 * start, or stops during the run, is reported and left out; the run goes on without it.
 */
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { AbortedError, EntourageError, errorMessage } from "../../core/index.ts";
import { inputFromJsonSchema } from "../json-schema.ts";
import type { Risk, ToolDefinition, ToolResult } from "../tool.ts";
import { mcpToolName, withHash } from "./names.ts";
import { mcpResultText } from "./result.ts";

/** One configured server, as the bridge needs it (the config's `mcpServers.<name>`). */
export interface McpServerSpec {
  name: string;
  /** stdio: the executable and its arguments. */
  command?: string;
  args?: readonly string[];
  /** stdio: variables for the server besides the SDK's safe defaults (PATH, HOME, USER, SHELL, TERM, LOGNAME). */
  env?: Readonly<Record<string, string>>;
  cwd?: string;
  /** Streamable HTTP: the endpoint and extra headers. */
  url?: string;
  headers?: Readonly<Record<string, string>>;
  /** Risk class of the server's tools; `toolRisk` by the server's own tool name overrides it. */
  risk: Risk;
  toolRisk?: Readonly<Record<string, Risk>>;
  startupTimeoutMs: number;
  callTimeoutMs: number;
}

export interface McpProblem {
  server: string;
  message: string;
  /** The server's last lines on stderr, when it wrote any. */
  stderr?: string;
}

export interface McpBridge {
  /** Every tool of every server that started, in server order. */
  tools: ToolDefinition[];
  /** Servers that started, with the names of their tools. */
  servers: { name: string; tools: string[]; version?: string }[];
  /** Servers that did not start, with why. */
  failures: McpProblem[];
  /** Stops every server (stdio processes end; HTTP sessions close). */
  close(): Promise<void>;
}

export interface ConnectOptions {
  /** Where `${VAR}` in args, env, url and headers is looked up (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /** Called when a server that had started stops during the run. */
  onStopped?: (problem: McpProblem) => void;
  clientVersion?: string;
}

/** Connects every server at once; resolves when each has started or failed. Never throws for a server. */
export async function connectMcpServers(
  specs: readonly McpServerSpec[],
  options: ConnectOptions = {},
): Promise<McpBridge> {
  const settled = await Promise.all(specs.map((spec) => connectServer(spec, options)));
  const tools: ToolDefinition[] = [];
  const taken = new Set<string>();
  const servers: McpBridge["servers"] = [];
  const failures: McpProblem[] = [];
  const live: ServerConnection[] = [];
  for (const result of settled) {
    if ("message" in result) {
      failures.push(result);
      continue;
    }
    live.push(result);
    const names: string[] = [];
    for (const tool of result.tools) {
      // Two tools whose names differ only in characters providers refuse would collide: keep both.
      if (taken.has(tool.name))
        tool.name = withHash(tool.name, `${result.name}/${tool.name}/${names.length}`);
      taken.add(tool.name);
      names.push(tool.name);
      tools.push(tool);
    }
    servers.push({ name: result.name, tools: names, version: result.version });
  }
  return {
    tools,
    servers,
    failures,
    close: async () => {
      await Promise.all(live.map((c) => c.close()));
    },
  };
}

interface ServerConnection {
  name: string;
  version?: string;
  tools: ToolDefinition[];
  close(): Promise<void>;
}

/** `${VAR}` replaced from `env`; a variable that is not set is an error naming it. */
export function expandVariables(text: string, env: NodeJS.ProcessEnv, where: string): string {
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
    const value = env[name];
    if (value === undefined) {
      throw new EntourageError(
        "mcp_variable_unset",
        `${where} uses \${${name}}, which is not set in your environment`,
      );
    }
    return value;
  });
}

const expandRecord = (
  record: Readonly<Record<string, string>> | undefined,
  env: NodeJS.ProcessEnv,
  where: string,
): Record<string, string> =>
  Object.fromEntries(
    Object.entries(record ?? {}).map(([k, v]) => [k, expandVariables(v, env, `${where}.${k}`)]),
  );

async function connectServer(
  spec: McpServerSpec,
  options: ConnectOptions,
): Promise<ServerConnection | McpProblem> {
  const env = options.env ?? process.env;
  const label = `MCP server "${spec.name}"`;
  let stderrTail = "";
  const tail = () => (stderrTail.trim() ? ` Its last output on stderr:\n${stderrTail.trim()}` : "");
  const stderr = () => stderrTail.trim() || undefined;
  let client: Client | undefined;
  let closing = false;
  try {
    const { Client } = await import("@modelcontextprotocol/sdk/client/index.js");
    let transport: import("@modelcontextprotocol/sdk/shared/transport.js").Transport;
    if (spec.url !== undefined) {
      const { StreamableHTTPClientTransport } = await import(
        "@modelcontextprotocol/sdk/client/streamableHttp.js"
      );
      transport = new StreamableHTTPClientTransport(new URL(expandVariables(spec.url, env, "url")), {
        requestInit: { headers: expandRecord(spec.headers, env, "headers") },
      });
    } else {
      const { StdioClientTransport } = await import("@modelcontextprotocol/sdk/client/stdio.js");
      const stdio = new StdioClientTransport({
        command: spec.command!,
        args: (spec.args ?? []).map((a, i) => expandVariables(a, env, `args[${i}]`)),
        env: expandRecord(spec.env, env, "env"),
        cwd: spec.cwd,
        // Not the terminal's: the live view owns it. Kept for error messages.
        stderr: "pipe",
      });
      stdio.stderr?.on("data", (chunk: Buffer) => {
        stderrTail = (stderrTail + chunk.toString("utf8")).slice(-1500);
      });
      transport = stdio;
    }
    client = new Client({ name: "entourage", version: options.clientVersion ?? "0" }, { capabilities: {} });
    const c = client;
    await withTimeout(c.connect(transport, { timeout: spec.startupTimeoutMs }), spec.startupTimeoutMs);
    const listed: Awaited<ReturnType<Client["listTools"]>>["tools"] = [];
    let cursor: string | undefined;
    do {
      const page = await c.listTools(cursor ? { cursor } : undefined, { timeout: spec.startupTimeoutMs });
      listed.push(...page.tools);
      cursor = page.nextCursor;
    } while (cursor);
    let stopped: string | undefined;
    c.onclose = () => {
      if (closing) return;
      stopped = `${label} stopped during the run; its tools are unavailable from now on.${tail()}`;
      options.onStopped?.({
        server: spec.name,
        message: `${label} stopped during the run; its tools are unavailable from now on.`,
        stderr: stderr(),
      });
    };
    const tools = listed.map((tool) =>
      bridgeTool(
        spec,
        tool,
        c,
        () => stopped,
        () => tail(),
      ),
    );
    return {
      name: spec.name,
      version: c.getServerVersion()?.version,
      tools,
      close: async () => {
        closing = true;
        await c.close().catch(() => {});
      },
    };
  } catch (error) {
    closing = true;
    await client?.close().catch(() => {});
    const why = startError(error, spec).replace(/[.\s]*$/, ".");
    return { server: spec.name, message: `${label} failed to start: ${why}`, stderr: stderr() };
  }
}

function startError(error: unknown, spec: McpServerSpec): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === "ENOENT" && spec.command) {
    return `the command "${spec.command}" was not found (is it installed and on PATH? MCP servers get PATH from your environment)`;
  }
  if (EntourageError.isInstance(error)) return error.message;
  return errorMessage(error);
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no answer within ${Math.round(ms / 1000)} s (startupTimeoutSeconds)`)),
      ms,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

type ListedTool = Awaited<ReturnType<Client["listTools"]>>["tools"][number];

/** One MCP tool as an Entourage tool: JSON Schema for the model, the server's risk, text results. */
function bridgeTool(
  spec: McpServerSpec,
  tool: ListedTool,
  client: Client,
  stopped: () => string | undefined,
  stderrTail: () => string,
): ToolDefinition {
  const { input, inputJsonSchema } = inputFromJsonSchema(tool.inputSchema);
  const risk = spec.toolRisk?.[tool.name] ?? spec.risk;
  const about = (tool.description ?? tool.title ?? tool.annotations?.title ?? "").trim();
  return {
    name: mcpToolName(spec.name, tool.name),
    description: `${about ? `${about}\n\n` : ""}(Tool "${tool.name}" of the MCP server "${spec.name}".)`,
    input,
    inputJsonSchema,
    risk,
    async execute(args, ctx): Promise<ToolResult> {
      const gone = stopped();
      if (gone) return { output: gone, isError: true };
      try {
        const result = await client.callTool(
          { name: tool.name, arguments: args as Record<string, unknown> },
          undefined,
          { signal: ctx.signal, timeout: spec.callTimeoutMs },
        );
        return {
          output: mcpResultText(result),
          isError: result.isError === true,
          metadata: { mcpServer: spec.name, mcpTool: tool.name },
          // Whatever the server did in the workspace is checkpointed like a command's effects.
          changed: risk === "read" ? undefined : "unknown",
        };
      } catch (error) {
        if (ctx.signal.aborted) throw new AbortedError("the run was interrupted", { cause: error });
        const why =
          stopped() ?? `the MCP server "${spec.name}" reported: ${errorMessage(error)}${stderrTail()}`;
        throw new EntourageError("mcp_call_failed", why, { cause: error });
      }
    },
  };
}
