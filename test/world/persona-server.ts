#!/usr/bin/env node
/**
 * A model server "from the world": it speaks OpenAI chat completions and Anthropic messages over real HTTP
 * (streamed and not, tool calls with streamed argument chunks, usage) and answers like a plausible small
 * coding model that has never heard of the program calling it. Per request it looks only at what a model
 * sees — the system prompt, the messages and the tools offered — and, with a recipe of the repository's
 * bug, lists, reads, edits, runs the tests and reports, misbehaving as its persona says. See README.md.
 *
 *   node test/world/persona-server.ts --port 0 --recipe recipe.json --persona planInText,forgetFinish
 *   node test/world/persona-server.ts --repo mocha --persona falseSuccess   # makes a fixture repository too
 *
 * It imports nothing of the program under test (a test greps for that).
 */
import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type { FakeTurn } from "../fake-llm/scenario.ts";
import { anthropicAnswer, anthropicError, openaiAnswer, openaiError } from "../fake-llm/wire.ts";
import { type Conversation, readConversation, type WireApi } from "./conversation.ts";
import { type Action, decide, type Persona, type Recipe } from "./persona.ts";
import { shapeOf, type ToolKind } from "./tool-shapes.ts";

export type { Action, Persona, Recipe } from "./persona.ts";

/** One request as the persona server saw and answered it. */
export interface PersonaRequest {
  /** 0-based position among all requests. */
  index: number;
  api: WireApi;
  path: string;
  // biome-ignore lint/suspicious/noExplicitAny: tests walk arbitrary wire JSON
  body: any;
  /** The tools offered, with the kind the server took each for (undefined: not understood). */
  tools: { name: string; kind: ToolKind | undefined }[];
  /** The system prompt as the model saw it. */
  system: string;
  /** What it answered: a tool call (name, kind, arguments) or text, and why. */
  action: Action;
}

export interface PersonaServer {
  /** e.g. http://127.0.0.1:41234 */
  url: string;
  /** `url + '/v1'`: the base URL OpenAI-compatible and Anthropic clients take. */
  baseUrl: string;
  requests: PersonaRequest[];
  close(): Promise<void>;
}

export interface PersonaServerOptions {
  recipe: Recipe;
  persona?: Persona;
  port?: number;
  host?: string;
  /** Called with every request once it is answered. */
  onRequest?: (request: PersonaRequest) => void;
}

const PERSONA_FLAGS = [
  "planInText",
  "forgetFinish",
  "falseSuccess",
  "skipTests",
  "absolutePaths",
  "sloppyWhitespace",
  "oneCallThenDone",
  "wrongFix",
  "textOnly",
] as const;

/** Parses `planInText,forgetFinish,repeat=3` (also `repeat:3`); an unknown name throws, listing the known ones. */
export function parsePersona(spec: string | undefined): Persona {
  const persona: Persona = {};
  for (const raw of (spec ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)) {
    const [name, value] = raw.split(/[=:]/);
    if (name === "repeat") {
      const n = Number(value ?? "3");
      if (!Number.isInteger(n) || n < 1)
        throw new Error(`persona repeat needs a whole number ≥ 1, got "${value}"`);
      persona.repeat = n;
    } else if ((PERSONA_FLAGS as readonly string[]).includes(name!)) {
      (persona as Record<string, boolean>)[name!] = true;
    } else {
      throw new Error(`unknown persona "${name}"; known: ${[...PERSONA_FLAGS, "repeat=N"].join(", ")}`);
    }
  }
  return persona;
}

/** Checks a recipe read from JSON; throws a message naming the missing field. */
export function parseRecipe(value: unknown, source = "recipe"): Recipe {
  const r = value as Partial<Recipe> | null;
  for (const field of ["file", "wrong", "right"] as const) {
    if (!r || typeof r[field] !== "string" || r[field] === "")
      throw new Error(
        `${source}: "${field}" must be a non-empty string (a recipe is {file, wrong, right, decoy?, classification?})`,
      );
  }
  return r as Recipe;
}

function tokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4));
}

function turnOf(action: Action, index: number, api: WireApi, body: unknown): FakeTurn {
  const input = tokens(JSON.stringify(body));
  if (action.type === "text")
    return { text: action.text, usage: { inputTokens: input, outputTokens: tokens(action.text) } };
  const id = api === "anthropic" ? `toolu_${index}` : `call_${index}`;
  return {
    ...(action.text ? { text: action.text } : {}),
    toolCalls: [{ id, name: action.tool, arguments: action.args }],
    usage: { inputTokens: input, outputTokens: tokens(action.text + JSON.stringify(action.args)) },
  };
}

export async function startPersonaServer(options: PersonaServerOptions): Promise<PersonaServer> {
  const recipe = parseRecipe(options.recipe);
  const persona = options.persona ?? {};
  const requests: PersonaRequest[] = [];

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) send(res, 500, { error: { message: `persona server bug: ${String(error)}` } });
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    const raw = await readBody(req);
    if (req.method === "GET" && path.endsWith("/models")) {
      send(res, 200, { object: "list", data: [{ id: "persona", object: "model", owned_by: "world" }] });
      return;
    }
    const api: WireApi | undefined = path.endsWith("/chat/completions")
      ? "openai"
      : path.endsWith("/messages")
        ? "anthropic"
        : undefined;
    if (!api || req.method !== "POST") {
      send(res, 404, {
        error: {
          message: `persona server: no route for ${req.method} ${path}; it serves POST /v1/chat/completions and POST /v1/messages`,
        },
      });
      return;
    }
    const errorBody = api === "openai" ? openaiError : anthropicError;
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(raw);
    } catch {
      send(res, 400, errorBody(400, "persona server: request body is not JSON"));
      return;
    }
    const conversation: Conversation = readConversation(api, body);
    const action = decide(conversation, recipe, persona);
    const index = requests.length;
    const record: PersonaRequest = {
      index,
      api,
      path,
      body,
      tools: conversation.tools.map((t) => ({ name: t.name, kind: shapeOf(t).kind })),
      system: conversation.system,
      action,
    };
    requests.push(record);
    const model = typeof body.model === "string" ? body.model : "persona";
    const streamOptions = body.stream_options as { include_usage?: boolean } | undefined;
    const ctx = { turnIndex: index, model, includeUsage: streamOptions?.include_usage === true };
    const turn = turnOf(action, index, api, body);
    const answer = api === "openai" ? openaiAnswer(turn, ctx) : anthropicAnswer(turn, ctx);
    if (body.stream === true) {
      res.writeHead(200, {
        "content-type": "text/event-stream",
        "cache-control": "no-cache",
        connection: "keep-alive",
      });
      for (const frame of answer.frames) res.write(frame);
      res.end();
    } else {
      send(res, 200, answer.json);
    }
    options.onRequest?.(record);
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
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function send(res: ServerResponse, status: number, value: unknown): void {
  const text = JSON.stringify(value);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

async function main(): Promise<void> {
  const usage =
    "usage: persona-server.ts (--recipe FILE | --repo mocha|vitest|pytest|go|cargo) [--persona a,b,repeat=3] [--port N] [--host H] [--record FILE.jsonl]";
  const { values } = parseArgs({
    options: {
      recipe: { type: "string" },
      repo: { type: "string" },
      persona: { type: "string" },
      port: { type: "string", default: "0" },
      host: { type: "string", default: "127.0.0.1" },
      record: { type: "string" },
      help: { type: "boolean" },
    },
  });
  if (values.help || (!values.recipe && !values.repo)) {
    process.stderr.write(`${usage}\n`);
    process.exit(values.help ? 0 : 2);
  }
  let recipe: Recipe;
  if (values.repo) {
    const { makeWorldRepo } = await import("./repos.ts");
    const repo = await makeWorldRepo(values.repo as Parameters<typeof makeWorldRepo>[0]);
    process.stdout.write(`repository ${repo.dir}\ntest command ${repo.testCommand}\n`);
    recipe = repo.recipe;
  } else {
    recipe = parseRecipe(JSON.parse(readFileSync(values.recipe!, "utf8")), values.recipe);
  }
  const record = values.record;
  if (record) writeFileSync(record, "");
  const server = await startPersonaServer({
    recipe,
    persona: parsePersona(values.persona),
    port: Number(values.port),
    host: values.host,
    onRequest: (r) => {
      const what =
        r.action.type === "tool"
          ? `${r.action.tool}(${JSON.stringify(r.action.args)})`
          : JSON.stringify(r.action.text);
      process.stderr.write(`#${r.index} ${r.api} → ${what}  [${r.action.reason}]\n`);
      if (record)
        appendFileSync(
          record,
          `${JSON.stringify({ index: r.index, api: r.api, tools: r.tools, action: r.action, body: r.body })}\n`,
        );
    },
  });
  process.stdout.write(`listening ${server.url}\nbase URL ${server.baseUrl}\n`);
  const stop = () => server.close().then(() => process.exit(0));
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((error: unknown) => {
    process.stderr.write(`persona-server: ${(error as Error).message}\n`);
    process.exit(2);
  });
}
