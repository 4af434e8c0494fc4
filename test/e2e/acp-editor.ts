import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { Readable, Writable } from "node:stream";
import {
  type ActiveSession,
  type ClientConnection,
  client,
  methods,
  ndJsonStream,
  type RequestPermissionRequest,
  type RequestPermissionResponse,
  type SessionUpdate,
} from "@agentclientprotocol/sdk";
import type { FakeModelServer } from "../fake-llm/server.ts";
import { eventually } from "../helpers/api.ts";
import { BIN, cliEnv, fakeModelFlags } from "../helpers/cli.ts";

/**
 * An editor for the `entourage acp` suite: the ACP SDK's client side on the built CLI's stdio, answering
 * permission requests with the test's handler, and readers of the session updates it receives.
 */

export type PermissionHandler = (
  request: RequestPermissionRequest,
  signal: AbortSignal,
) => Promise<RequestPermissionResponse>;

export interface Editor {
  child: ChildProcessWithoutNullStreams;
  connection: ClientConnection;
  stderr: () => string;
  /** The acp process's API URL, from its stderr. */
  apiUrl: () => Promise<string>;
  /** Every permission request the editor received, with whether the agent withdrew it. */
  asked: { request: RequestPermissionRequest; withdrawn: boolean }[];
  onPermission: PermissionHandler;
  exited: Promise<number | null>;
}

export const allow = (optionId = "allow_once"): RequestPermissionResponse => ({
  outcome: { outcome: "selected", optionId },
});

/** Spawns `entourage acp` with the fake model and connects the SDK's client to its stdio. */
export function startEditor(home: string, server: FakeModelServer, flags: string[]): Editor {
  const child = spawn(
    process.execPath,
    [BIN, "acp", ...fakeModelFlags(server), "--sandbox", "subprocess", ...flags],
    { env: cliEnv(home), stdio: "pipe" },
  );
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
  const editor: Editor = {
    child,
    stderr: () => stderr,
    apiUrl: () =>
      eventually(() => /entourage acp: api (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr)?.[1], "the API URL"),
    asked: [],
    onPermission: async () => allow(),
    exited,
    connection: undefined as unknown as ClientConnection,
  };
  const app = client({ name: "test-editor" }).onRequest(
    methods.client.session.requestPermission,
    async ({ params, signal }) => {
      const entry = { request: params, withdrawn: false };
      editor.asked.push(entry);
      signal.addEventListener("abort", () => {
        entry.withdrawn = true;
      });
      return editor.onPermission(params, signal);
    },
  );
  editor.connection = app.connect(
    ndJsonStream(
      Writable.toWeb(child.stdin) as WritableStream<Uint8Array>,
      Readable.toWeb(child.stdout) as ReadableStream<Uint8Array>,
    ),
  );
  return editor;
}

/** Sends a prompt and collects the session's updates until the turn stops. */
export async function promptTurn(
  session: ActiveSession,
  text: string,
): Promise<{ stopReason: string; updates: SessionUpdate[] }> {
  const response = session.prompt(text);
  const updates: SessionUpdate[] = [];
  for (;;) {
    const next = await session.nextUpdate();
    if (next.kind === "stop") {
      await response;
      return { stopReason: next.stopReason, updates };
    }
    updates.push(next.update);
  }
}

export const messageText = (updates: SessionUpdate[]) =>
  updates
    .map((u) =>
      u.sessionUpdate === "agent_message_chunk" && u.content.type === "text" ? u.content.text : "",
    )
    .join("");

/** The statuses a tool call went through, in order (the tool_call's, then each update's). */
export function statusesOf(updates: SessionUpdate[], toolCallId: string): string[] {
  return updates.flatMap((u) =>
    (u.sessionUpdate === "tool_call" || u.sessionUpdate === "tool_call_update") &&
    u.toolCallId === toolCallId &&
    u.status
      ? [u.status]
      : [],
  );
}

export const runIdOf = (updates: SessionUpdate[]) => /Run (run_\w+)/.exec(messageText(updates))?.[1];
