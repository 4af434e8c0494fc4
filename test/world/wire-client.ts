/**
 * A minimal client of the two wire formats, written from the vendors' documented shapes with plain fetch
 * and a hand-rolled SSE parser, so the persona server's tests check the bytes it sends rather than an SDK's
 * tolerance. `drive` runs a tiny agent loop that executes the tools for real, standing in for a harness.
 */
import type { WireApi } from "./conversation.ts";

export interface ReplyCall {
  id: string;
  name: string;
  args: Record<string, unknown>;
  /** How many argument fragments the call was streamed in (1 when not streamed). */
  fragments: number;
}

export interface ModelReply {
  text: string;
  calls: ReplyCall[];
  finishReason: string | undefined;
  usage: { input: number; output: number } | undefined;
  /** Event names (Anthropic) or `data` frames (OpenAI) in order, for protocol assertions. */
  events: string[];
}

export interface SseFrame {
  event?: string;
  data: string;
}

/** Splits an SSE body into frames (blank-line separated; `event:` and `data:` lines). */
export function parseSse(body: string): SseFrame[] {
  const frames: SseFrame[] = [];
  for (const block of body.split(/\r?\n\r?\n/)) {
    if (block.trim() === "") continue;
    const frame: SseFrame = { data: "" };
    const data: string[] = [];
    for (const line of block.split(/\r?\n/)) {
      if (line.startsWith("event:")) frame.event = line.slice(6).trim();
      else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
    }
    frame.data = data.join("\n");
    frames.push(frame);
  }
  return frames;
}

// biome-ignore lint/suspicious/noExplicitAny: wire JSON
type Any = any;

export async function callModel(api: WireApi, baseUrl: string, body: Any): Promise<ModelReply> {
  const path = api === "openai" ? "/chat/completions" : "/messages";
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (api === "anthropic") headers["anthropic-version"] = "2023-06-01";
  const response = await fetch(`${baseUrl}${path}`, { method: "POST", headers, body: JSON.stringify(body) });
  const text = await response.text();
  if (!response.ok) throw new Error(`HTTP ${response.status}: ${text}`);
  if (body.stream === true) {
    if (!(response.headers.get("content-type") ?? "").startsWith("text/event-stream"))
      throw new Error(
        `a streamed answer must be text/event-stream, got ${response.headers.get("content-type")}`,
      );
    return api === "openai" ? readOpenAIStream(parseSse(text)) : readAnthropicStream(parseSse(text));
  }
  const json = JSON.parse(text);
  if (api === "openai") {
    const message = json.choices[0].message;
    return {
      text: message.content ?? "",
      calls: (message.tool_calls ?? []).map((c: Any) => ({
        id: c.id,
        name: c.function.name,
        args: JSON.parse(c.function.arguments),
        fragments: 1,
      })),
      finishReason: json.choices[0].finish_reason,
      usage: { input: json.usage.prompt_tokens, output: json.usage.completion_tokens },
      events: [],
    };
  }
  return {
    text: json.content
      .filter((b: Any) => b.type === "text")
      .map((b: Any) => b.text)
      .join(""),
    calls: json.content
      .filter((b: Any) => b.type === "tool_use")
      .map((b: Any) => ({ id: b.id, name: b.name, args: b.input, fragments: 1 })),
    finishReason: json.stop_reason,
    usage: { input: json.usage.input_tokens, output: json.usage.output_tokens },
    events: [],
  };
}

function readOpenAIStream(frames: SseFrame[]): ModelReply {
  const reply: ModelReply = { text: "", calls: [], finishReason: undefined, usage: undefined, events: [] };
  const partial: { id: string; name: string; args: string; fragments: number }[] = [];
  for (const frame of frames) {
    reply.events.push(frame.data === "[DONE]" ? "[DONE]" : "chunk");
    if (frame.data === "[DONE]") continue;
    const chunk = JSON.parse(frame.data);
    if (chunk.usage)
      reply.usage = { input: chunk.usage.prompt_tokens, output: chunk.usage.completion_tokens };
    const choice = chunk.choices?.[0];
    if (!choice) continue;
    if (choice.delta?.content) reply.text += choice.delta.content;
    for (const tc of choice.delta?.tool_calls ?? []) {
      if (!partial[tc.index]) partial[tc.index] = { id: "", name: "", args: "", fragments: 0 };
      const slot = partial[tc.index]!;
      if (tc.id) slot.id = tc.id;
      if (tc.function?.name) slot.name = tc.function.name;
      if (tc.function?.arguments !== undefined) {
        slot.args += tc.function.arguments;
        slot.fragments++;
      }
    }
    if (choice.finish_reason) reply.finishReason = choice.finish_reason;
  }
  reply.calls = partial.map((p) => ({
    id: p.id,
    name: p.name,
    args: JSON.parse(p.args || "{}"),
    fragments: p.fragments,
  }));
  return reply;
}

function readAnthropicStream(frames: SseFrame[]): ModelReply {
  const reply: ModelReply = { text: "", calls: [], finishReason: undefined, usage: undefined, events: [] };
  const blocks: { type: string; id?: string; name?: string; json: string; fragments: number }[] = [];
  let input = 0;
  for (const frame of frames) {
    reply.events.push(frame.event ?? "(none)");
    const data = JSON.parse(frame.data);
    if (data.type !== frame.event) throw new Error(`event ${frame.event} carries data of type ${data.type}`);
    if (data.type === "message_start") input = data.message.usage.input_tokens;
    if (data.type === "content_block_start")
      blocks[data.index] = {
        type: data.content_block.type,
        id: data.content_block.id,
        name: data.content_block.name,
        json: "",
        fragments: 0,
      };
    if (data.type === "content_block_delta") {
      const block = blocks[data.index]!;
      if (data.delta.type === "text_delta") reply.text += data.delta.text;
      if (data.delta.type === "input_json_delta") {
        block.json += data.delta.partial_json;
        block.fragments++;
      }
    }
    if (data.type === "message_delta") {
      reply.finishReason = data.delta.stop_reason;
      reply.usage = { input, output: data.usage.output_tokens };
    }
  }
  reply.calls = blocks
    .filter((b) => b.type === "tool_use")
    .map((b) => ({ id: b.id!, name: b.name!, args: JSON.parse(b.json || "{}"), fragments: b.fragments }));
  return reply;
}

export interface LocalTool {
  name: string;
  description: string;
  parameters: Record<string, unknown>;
  run(args: Record<string, unknown>): { output: string; isError?: boolean };
}

export interface DriveResult {
  replies: ModelReply[];
  /** Every tool call made, with what it returned. */
  calls: { name: string; args: Record<string, unknown>; output: string; isError: boolean }[];
  /** The text of the reply that ended the loop (one without tool calls). */
  finalText: string | undefined;
}

/**
 * A tiny agent loop: sends the conversation, runs each tool call with `tools`, sends the results back, and
 * stops at a reply without tool calls, after a call of a tool in `stopAfter`, or after `maxTurns`.
 */
export async function drive(options: {
  api: WireApi;
  baseUrl: string;
  system: string;
  user: string;
  tools: LocalTool[];
  stream?: boolean;
  stopAfter?: string[];
  maxTurns?: number;
}): Promise<DriveResult> {
  const { api } = options;
  const messages: Any[] = api === "openai" ? [{ role: "system", content: options.system }] : [];
  messages.push({ role: "user", content: options.user });
  const wireTools = options.tools.map((t) =>
    api === "openai"
      ? { type: "function", function: { name: t.name, description: t.description, parameters: t.parameters } }
      : { name: t.name, description: t.description, input_schema: t.parameters },
  );
  const result: DriveResult = { replies: [], calls: [], finalText: undefined };
  for (let turn = 0; turn < (options.maxTurns ?? 25); turn++) {
    const body: Any = { model: "small-coder", messages, tools: wireTools, stream: options.stream ?? true };
    if (api === "anthropic") Object.assign(body, { system: options.system, max_tokens: 1024 });
    else if (body.stream) body.stream_options = { include_usage: true };
    const reply = await callModel(api, options.baseUrl, body);
    result.replies.push(reply);
    if (reply.calls.length === 0) {
      result.finalText = reply.text;
      return result;
    }
    const outputs = reply.calls.map((call) => {
      const tool = options.tools.find((t) => t.name === call.name);
      const out = tool ? tool.run(call.args) : { output: `no tool named ${call.name}`, isError: true };
      const entry = { name: call.name, args: call.args, output: out.output, isError: out.isError === true };
      result.calls.push(entry);
      return { call, ...entry };
    });
    if (api === "openai") {
      messages.push({
        role: "assistant",
        content: reply.text || null,
        tool_calls: reply.calls.map((c) => ({
          id: c.id,
          type: "function",
          function: { name: c.name, arguments: JSON.stringify(c.args) },
        })),
      });
      for (const o of outputs) messages.push({ role: "tool", tool_call_id: o.call.id, content: o.output });
    } else {
      messages.push({
        role: "assistant",
        content: [
          ...(reply.text ? [{ type: "text", text: reply.text }] : []),
          ...reply.calls.map((c) => ({ type: "tool_use", id: c.id, name: c.name, input: c.args })),
        ],
      });
      messages.push({
        role: "user",
        content: outputs.map((o) => ({
          type: "tool_result",
          tool_use_id: o.call.id,
          content: o.output,
          is_error: o.isError,
        })),
      });
    }
    if (reply.calls.some((c) => options.stopAfter?.includes(c.name))) return result;
  }
  return result;
}
