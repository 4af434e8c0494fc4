import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { type FakeTurn, loadScenario, parseScenario, type Scenario, type ScenarioInput } from "./scenario.ts";
import {
  anthropicAnswer,
  anthropicError,
  googleAnswer,
  googleError,
  openaiAnswer,
  openaiError,
  openaiResponsesAnswer,
  type WireAnswer,
} from "./wire.ts";

/**
 * A real HTTP server that stands in for an LLM in every test: it speaks OpenAI chat completions, the
 * OpenAI Responses API, Anthropic messages and Google Gemini generateContent (streamed and not), replays a scenario turn by turn, injects faults, and records
 * each request so tests can assert what the model was sent. See ./README.md for the scenario format.
 */
export interface RecordedRequest {
  /** 0-based position among all requests. */
  index: number;
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** Parsed JSON body (undefined if the body was not JSON). */
  // biome-ignore lint/suspicious/noExplicitAny: tests walk arbitrary wire JSON (`requests[1].body.messages`)
  body: any;
  /** Milliseconds since the epoch when the request arrived. */
  time: number;
  /** The wire format the request was answered in. */
  api: WireApi | "unknown";
  /** Index of the scenario turn that answered it, if any. */
  turn?: number;
  /** HTTP status sent (200 for answers, also when a fault cut the stream). */
  status?: number;
  /** True once the response was completely written (false while streaming, stalled or cut). */
  ended: boolean;
  /** True once the connection is gone: the answer ended, the server cut it, or the client went away. */
  closed: boolean;
}

/**
 * The wire formats served: `openai` (POST …/chat/completions), `openai-responses` (POST …/responses),
 * `anthropic` (POST …/messages), `google` (POST …/models/NAME:streamGenerateContent or :generateContent).
 */
export type WireApi = "openai" | "openai-responses" | "anthropic" | "google";

const encoders: Record<
  WireApi,
  { answer: typeof openaiAnswer; error: (status: number, message: string) => unknown }
> = {
  openai: { answer: openaiAnswer, error: openaiError },
  "openai-responses": { answer: openaiResponsesAnswer, error: openaiError },
  anthropic: { answer: anthropicAnswer, error: anthropicError },
  google: { answer: googleAnswer, error: googleError },
};

/** Which wire a request path speaks (the query string already removed). */
export function wireOf(path: string): WireApi | "unknown" {
  if (path.endsWith("/chat/completions")) return "openai";
  if (path.endsWith("/responses")) return "openai-responses";
  if (path.endsWith("/messages")) return "anthropic";
  if (/\/models\/[^/]+:(stream)?[gG]enerateContent$/.test(path)) return "google";
  return "unknown";
}

export interface FakeModelServer {
  /** e.g. http://127.0.0.1:41234 */
  url: string;
  /** `url + '/v1'`: the base URL the OpenAI and Anthropic clients take. */
  baseUrl: string;
  requests: RecordedRequest[];
  /** Expectation mismatches and exhaustion, in order; a passing test usually asserts this is empty. */
  failures: string[];
  remainingTurns(): number;
  /** Makes `index` the next turn served: a test that killed its client mid-turn replays that turn. */
  seek(index: number): void;
  close(): Promise<void>;
}

export interface FakeModelServerOptions {
  /** The scenario: an object, a bare list of turns, or the path of a JSON scenario file. */
  scenario: Scenario | ScenarioInput | string;
  port?: number;
  host?: string;
  /** Called for every request as soon as its body is read (main.ts uses it for --record). */
  onRequest?: (request: RecordedRequest) => void;
  /** Called with each failure message as it happens (main.ts prints them on stderr). */
  onFailure?: (message: string) => void;
  /**
   * Serve every conversation the scenario from its start: a request gets the turn numbered by how many
   * answers of the model its messages already hold. Many runs can then share one server, in any order, and
   * a resumed run (which sends its conversation again) gets the turn it is at — as a real model would.
   * Turns with `match` belong only to conversations whose requests contain that text, so one scenario
   * can hold a script per task (`entourage eval` runs several at once).
   */
  perConversation?: boolean;
}

/** How many model answers a request's conversation already holds (assistant / model messages). */
export function answersSoFar(api: WireApi, body: unknown): number {
  const b = body as { messages?: { role?: string }[]; contents?: { role?: string }[]; input?: unknown };
  if (api === "google") return (b.contents ?? []).filter((m) => m.role === "model").length;
  if (api === "openai-responses") {
    // Responses input: an answer is a run of assistant messages / function calls, ended by the next user
    // input or tool output.
    const items = Array.isArray(b.input) ? (b.input as { role?: string; type?: string }[]) : [];
    let count = 0;
    let inAnswer = false;
    for (const item of items) {
      const fromModel =
        item.role === "assistant" || item.type === "function_call" || item.type === "reasoning";
      if (fromModel && !inAnswer) count++;
      inAnswer = fromModel;
    }
    return count;
  }
  return (b.messages ?? []).filter((m) => m.role === "assistant").length;
}

export async function startFakeModelServer(options: FakeModelServerOptions): Promise<FakeModelServer> {
  const scenario =
    typeof options.scenario === "string"
      ? await loadScenario(options.scenario)
      : parseScenario(options.scenario);
  const turns = scenario.turns;
  const requests: RecordedRequest[] = [];
  const failures: string[] = [];
  const fail = (message: string) => {
    failures.push(message);
    options.onFailure?.(message);
  };
  // `next`: the first turn not yet served. Turns with `match` may be served out of order (parallel
  // agents): a request takes the first unserved turn that has no `match` or whose `match` it contains.
  let next = 0;
  const used = new Set<number>();
  const pickTurn = (body: unknown, api: WireApi): number | undefined => {
    const text = JSON.stringify(body);
    if (options.perConversation) {
      // The conversation's script: the turns whose `match` its request contains, and those without one.
      const script = turns.flatMap((t, i) => (t.match === undefined || text.includes(t.match) ? [i] : []));
      return script[answersSoFar(api, body)];
    }
    for (let i = next; i < turns.length; i++) {
      if (used.has(i)) continue;
      const match = turns[i]!.match;
      if (match === undefined || text.includes(match)) return i;
    }
    return undefined;
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      fail(`internal error: ${(error as Error).stack ?? String(error)}`);
      if (!res.headersSent)
        sendJson(res, 500, { error: { message: `fake model server bug: ${String(error)}` } });
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    let body: RecordedRequest["body"];
    try {
      body = raw.length > 0 ? JSON.parse(raw) : undefined;
    } catch {
      body = undefined;
    }
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    const api = wireOf(path);
    const record: RecordedRequest = {
      index: requests.length,
      method: req.method ?? "GET",
      path,
      headers: req.headers,
      body,
      time: Date.now(),
      api,
      ended: false,
      closed: false,
    };
    requests.push(record);
    options.onRequest?.(record);
    res.on("finish", () => {
      record.ended = true;
    });
    res.on("close", () => {
      record.closed = true;
    });

    if (api === "unknown" || req.method !== "POST") {
      record.status = 404;
      sendJson(res, 404, {
        error: {
          message: `fake model server: no route for ${req.method} ${path}; it serves POST /v1/chat/completions (OpenAI), POST /v1/responses (OpenAI Responses), POST /v1/messages (Anthropic) and POST /v1/models/NAME:streamGenerateContent (Google)`,
        },
      });
      return;
    }
    const errorBody = encoders[api].error;
    if (body === undefined) {
      record.status = 400;
      sendJson(res, 400, errorBody(400, "fake model server: request body is not JSON"));
      return;
    }

    const turnIndex = pickTurn(body, api);
    const turn = turnIndex === undefined ? undefined : turns[turnIndex];
    if (turnIndex === undefined || !turn) {
      const message = `fake model server: scenario exhausted: all ${turns.length} turns were used, and request #${record.index} (${path}) has none left`;
      fail(message);
      record.status = 500;
      sendJson(res, 500, errorBody(500, message));
      return;
    }
    used.add(turnIndex);
    while (used.has(next)) next++;
    record.turn = turnIndex;

    const mismatch = checkExpectations(turn, turnIndex, api, body);
    if (mismatch) {
      fail(mismatch);
      record.status = 400;
      sendJson(res, 400, errorBody(400, mismatch));
      return;
    }

    const closed = closedSignal(res);
    if (turn.delayMs) await wait(turn.delayMs, closed);
    if (closed.aborted) return;

    if (turn.status) {
      const headers: Record<string, string> = {};
      if (turn.retryAfter !== undefined) headers["retry-after"] = String(turn.retryAfter);
      if (turn.retryAfterMs !== undefined) headers["retry-after-ms"] = String(turn.retryAfterMs);
      record.status = turn.status;
      sendJson(
        res,
        turn.status,
        errorBody(turn.status, turn.errorMessage ?? `fake model server: scripted HTTP ${turn.status}`),
        headers,
      );
      return;
    }

    // Gemini names the model in the path and streams by endpoint, not by a body field.
    const model =
      typeof body.model === "string" ? body.model : (/\/models\/([^/:]+):/.exec(path)?.[1] ?? "fake-model");
    const streamed = api === "google" ? path.endsWith(":streamGenerateContent") : body.stream === true;
    const ctx = { turnIndex, model, includeUsage: body.stream_options?.include_usage === true };
    const answer: WireAnswer = encoders[api].answer(turn, ctx);
    record.status = 200;
    if (streamed) await stream(res, answer.frames, turn, closed);
    else await respondJson(res, answer.json, turn, closed);
  }

  async function stream(
    res: ServerResponse,
    frames: string[],
    turn: FakeTurn,
    closed: AbortSignal,
  ): Promise<void> {
    res.writeHead(200, {
      "content-type": "text/event-stream",
      "cache-control": "no-cache",
      connection: "keep-alive",
    });
    res.flushHeaders();
    for (let i = 0; i < frames.length; i++) {
      if (turn.stallAfterChunks !== undefined && i >= turn.stallAfterChunks) return await untilClosed(closed);
      if (turn.truncateAfterChunks !== undefined && i >= turn.truncateAfterChunks) return cut(res);
      if (turn.endAfterChunks !== undefined && i >= turn.endAfterChunks) break;
      if (i > 0 && turn.chunkDelayMs) await wait(turn.chunkDelayMs, closed);
      if (closed.aborted) return;
      res.write(frames[i]);
    }
    if (turn.stallAfterChunks !== undefined) return await untilClosed(closed);
    if (turn.truncateAfterChunks !== undefined) return cut(res);
    res.end();
  }

  async function respondJson(res: ServerResponse, json: unknown, turn: FakeTurn, closed: AbortSignal) {
    const text = JSON.stringify(json);
    if (turn.stallAfterChunks !== undefined) {
      res.writeHead(200, { "content-type": "application/json" });
      res.flushHeaders();
      return await untilClosed(closed);
    }
    if (turn.truncateAfterChunks !== undefined) {
      res.writeHead(200, { "content-type": "application/json" });
      res.write(text.slice(0, Math.floor(text.length / 2)));
      return cut(res);
    }
    sendJson(res, 200, json);
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${options.host ?? "127.0.0.1"}:${port}`;

  return {
    url,
    baseUrl: `${url}/v1`,
    requests,
    failures,
    remainingTurns: () => turns.length - next - [...used].filter((i) => i >= next).length,
    seek: (index) => {
      if (!Number.isInteger(index) || index < 0 || index > turns.length)
        throw new Error(`seek: no turn ${index}`);
      next = index;
      used.clear();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Returns a failure message if the request does not meet the turn's expectations. */
function checkExpectations(
  turn: FakeTurn,
  turnIndex: number,
  api: WireApi,
  body: {
    tools?: unknown;
    messages?: unknown;
    system?: unknown;
    input?: unknown;
    instructions?: unknown;
    contents?: unknown;
    systemInstruction?: unknown;
  },
) {
  const label = `turn ${turnIndex}${turn.name ? ` (${turn.name})` : ""}`;
  if (turn.expectTools) {
    const offered = offeredTools(api, body.tools);
    const missing = turn.expectTools.filter((name) => !offered.includes(name));
    if (missing.length > 0) {
      return `fake model server: ${label} expected tools [${missing.join(", ")}] in the request, but it offered [${offered.join(", ")}]`;
    }
  }
  if (turn.expectMessageContains) {
    const haystack =
      api === "anthropic"
        ? { system: body.system, messages: body.messages }
        : api === "google"
          ? { systemInstruction: body.systemInstruction, contents: body.contents }
          : api === "openai-responses"
            ? { instructions: body.instructions, input: body.input }
            : body.messages;
    const json = JSON.stringify(haystack ?? null);
    const strings = collectStrings(haystack).join("\n");
    const missing = turn.expectMessageContains.filter((s) => !json.includes(s) && !strings.includes(s));
    if (missing.length > 0) {
      return `fake model server: ${label} expected the request messages to contain ${missing.map((s) => JSON.stringify(s)).join(", ")}; they were: ${json.slice(0, 2000)}`;
    }
  }
  return undefined;
}

/** The names of the function tools a request offers, in each wire's own shape. */
function offeredTools(api: WireApi, tools: unknown): string[] {
  const list: { name?: string; function?: { name?: string }; functionDeclarations?: { name?: string }[] }[] =
    Array.isArray(tools) ? tools : [];
  if (api === "google")
    return list.flatMap((t) => t?.functionDeclarations ?? []).map((d) => d?.name ?? "(unnamed)");
  return list.map((t) => (api === "openai" ? t?.function?.name : t?.name) ?? "(unnamed)");
}

function collectStrings(value: unknown, out: string[] = []): string[] {
  if (typeof value === "string") out.push(value);
  else if (Array.isArray(value)) for (const v of value) collectStrings(v, out);
  else if (value && typeof value === "object") for (const v of Object.values(value)) collectStrings(v, out);
  return out;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}) {
  const text = JSON.stringify(value);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** Aborts when the client goes away (or the server closes the connection). */
function closedSignal(res: ServerResponse): AbortSignal {
  const controller = new AbortController();
  res.on("close", () => controller.abort());
  return controller.signal;
}

async function wait(ms: number, signal: AbortSignal): Promise<void> {
  await sleep(ms, undefined, { signal }).catch(() => {});
}

function untilClosed(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
}

function cut(res: ServerResponse): void {
  res.socket?.destroy();
}
