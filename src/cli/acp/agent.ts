/**
 * The ACP agent side of `entourage acp`: the handlers of the Agent Client Protocol (v1, stable) over one
 * connection (stdio). Sessions are Entourage runs (session.ts); their events reach the editor as
 * `session/update`s (translate.ts).
 */
import { existsSync, statSync } from "node:fs";
import { isAbsolute } from "node:path";
import {
  type AgentConnection,
  agent,
  type ContentBlock,
  type InitializeResponse,
  methods,
  PROTOCOL_VERSION,
  RequestError,
  type Stream,
} from "@agentclientprotocol/sdk";
import { EntourageError, errorMessage, newId } from "../../core/index.ts";
import { AcpSession, type SessionHost } from "./session.ts";

/** What `initialize` answers: only what this agent does (no session/load, no images or audio). */
export function initializeResponse(version: string): InitializeResponse {
  return {
    protocolVersion: PROTOCOL_VERSION,
    agentCapabilities: {
      loadSession: false,
      promptCapabilities: { image: false, audio: false, embeddedContext: true },
      mcpCapabilities: { http: false, sse: false },
    },
    authMethods: [],
    agentInfo: { name: "entourage", title: "Entourage", version },
  };
}

/**
 * A prompt's content blocks as the task text: text as is, a file reference as its path, embedded context
 * (a file the editor attached) quoted under its URI. Images and audio are refused: not advertised.
 */
export function promptText(blocks: readonly ContentBlock[]): string {
  const parts: string[] = [];
  for (const block of blocks) {
    switch (block.type) {
      case "text":
        parts.push(block.text);
        break;
      case "resource_link":
        parts.push(`${block.name} (${block.uri})`);
        break;
      case "resource":
        if ("text" in block.resource)
          parts.push(`\nContext: ${block.resource.uri}\n\`\`\`\n${block.resource.text}\n\`\`\`\n`);
        else parts.push(`(binary context ${block.resource.uri} left out: only text is read)`);
        break;
      default:
        throw RequestError.invalidParams(
          { type: block.type },
          `entourage acp takes text, file references and embedded text context, not ${block.type} content`,
        );
    }
  }
  const text = parts.join("\n").trim();
  if (text === "") throw RequestError.invalidParams({}, "the prompt is empty: say what to do");
  return text;
}

/** A failure the editor shows: an Entourage error keeps its message and code. */
function toRequestError(error: unknown): unknown {
  if (error instanceof RequestError) return error;
  const code = EntourageError.isInstance(error) ? error.code : "internal_error";
  return new RequestError(-32603, errorMessage(error), { code });
}

/** Serves ACP on `stream` until the editor goes away; sessions are closed with the connection. */
export function serveAcp(stream: Stream, host: SessionHost, version: string): AgentConnection {
  const sessions = new Map<string, AcpSession>();
  const sessionOf = (sessionId: string): AcpSession => {
    const session = sessions.get(sessionId);
    if (!session)
      throw new RequestError(
        RequestError.sessionNotFound(sessionId).code,
        `No session ${sessionId} in this entourage acp process (sessions do not outlive the process): start a new session`,
        { sessionId },
      );
    return session;
  };
  const app = agent({ name: "entourage" })
    .onRequest(methods.agent.initialize, () => initializeResponse(version))
    .onRequest(methods.agent.session.new, ({ params, client }) => {
      const cwd = params.cwd;
      if (!isAbsolute(cwd) || !existsSync(cwd) || !statSync(cwd).isDirectory())
        throw RequestError.invalidParams(
          { cwd },
          `cwd must be the absolute path of an existing directory (the repository to work on), got "${cwd}"`,
        );
      if (params.mcpServers.length > 0)
        host.log(
          `session/new: ${params.mcpServers.length} MCP server(s) from the editor are not used; configure MCP servers in .entourage/config.json`,
        );
      const session = new AcpSession(newId("sess"), cwd, host, client);
      sessions.set(session.id, session);
      // Offered once the editor knows the session: a notification written before the session/new response
      // is dropped by a client that routes updates by session (the SDK's ActiveSession does). Sent again at the
      // first prompt, which is surely after it.
      setTimeout(() => session.offerCommands(), 100).unref();
      return { sessionId: session.id };
    })
    .onRequest(methods.agent.session.prompt, async ({ params }) => {
      const session = sessionOf(params.sessionId);
      const text = promptText(params.prompt);
      try {
        return { stopReason: await session.prompt(text) };
      } catch (error) {
        throw toRequestError(error);
      }
    })
    .onNotification(methods.agent.session.cancel, ({ params }) => {
      sessions.get(params.sessionId)?.cancel();
    });
  const connection = app.connect(stream);
  connection.closed.finally(() => {
    for (const session of sessions.values()) session.close();
  });
  return connection;
}
