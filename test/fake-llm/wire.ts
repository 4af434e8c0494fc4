import { argumentsTextOf, type FakeToolCall, type FakeTurn, splitArguments, splitText } from "./scenario.ts";

/**
 * Encoders from a scenario turn to the wire formats (OpenAI chat completions, Anthropic messages, Google
 * Gemini, OpenAI Responses). Each returns the SSE frames of a streamed answer
 * (one frame = one "chunk" for the stall/truncate faults) and the JSON of a non-streamed answer.
 */
export interface WireAnswer {
  frames: string[];
  json: unknown;
}

export interface WireContext {
  turnIndex: number;
  model: string;
  includeUsage: boolean;
}

function textChunksOf(turn: FakeTurn): string[] {
  if (turn.textChunks) return turn.textChunks;
  return turn.text ? splitText(turn.text) : [];
}

function callId(turn: FakeTurn, turnIndex: number, i: number): string {
  return turn.toolCalls?.[i]?.id ?? `call_${turnIndex}_${i}`;
}

function usageOf(turn: FakeTurn) {
  const input = turn.usage?.inputTokens ?? 10;
  return {
    input,
    output: turn.usage?.outputTokens ?? 5,
    cached: Math.min(turn.usage?.cachedInputTokens ?? 0, input),
  };
}

// ---------------------------------------------------------------- OpenAI chat completions

export function openaiAnswer(turn: FakeTurn, ctx: WireContext): WireAnswer {
  const id = `chatcmpl-${ctx.turnIndex}`;
  const created = 1_700_000_000 + ctx.turnIndex;
  const calls = turn.toolCalls ?? [];
  const finish = turn.finishReason ?? (calls.length > 0 ? "tool_calls" : "stop");
  const usage = usageOf(turn);
  const wireUsage = {
    prompt_tokens: usage.input,
    completion_tokens: usage.output,
    total_tokens: usage.input + usage.output,
    prompt_tokens_details: { cached_tokens: usage.cached },
  };
  const chunk = (delta: unknown, finishReason: string | null = null) =>
    data({
      id,
      object: "chat.completion.chunk",
      created,
      model: ctx.model,
      choices: [{ index: 0, delta, finish_reason: finishReason }],
    });

  const frames: string[] = [chunk({ role: "assistant", content: "" })];
  if (turn.reasoning)
    for (const piece of splitText(turn.reasoning)) frames.push(chunk({ reasoning_content: piece }));
  for (const piece of textChunksOf(turn)) frames.push(chunk({ content: piece }));
  calls.forEach((call, index) => {
    const [first = "", ...rest] = splitArguments(argumentsTextOf(call));
    frames.push(
      chunk({
        tool_calls: [
          {
            index,
            id: callId(turn, ctx.turnIndex, index),
            type: "function",
            function: { name: call.name, arguments: first },
          },
        ],
      }),
    );
    for (const fragment of rest)
      frames.push(chunk({ tool_calls: [{ index, function: { arguments: fragment } }] }));
  });
  frames.push(chunk({}, finish));
  if (ctx.includeUsage) {
    frames.push(
      data({ id, object: "chat.completion.chunk", created, model: ctx.model, choices: [], usage: wireUsage }),
    );
  }
  frames.push("data: [DONE]\n\n");

  const text = textChunksOf(turn).join("");
  const json = {
    id,
    object: "chat.completion",
    created,
    model: ctx.model,
    choices: [
      {
        index: 0,
        message: {
          role: "assistant",
          content: text || null,
          ...(turn.reasoning ? { reasoning_content: turn.reasoning } : {}),
          ...(calls.length > 0
            ? {
                tool_calls: calls.map((call, i) => ({
                  id: callId(turn, ctx.turnIndex, i),
                  type: "function",
                  function: { name: call.name, arguments: argumentsTextOf(call) },
                })),
              }
            : {}),
        },
        finish_reason: finish,
      },
    ],
    usage: wireUsage,
  };
  return { frames, json };
}

export function openaiError(status: number, message: string): unknown {
  const type =
    status === 429 ? "rate_limit_exceeded" : status >= 500 ? "server_error" : "invalid_request_error";
  return { error: { message, type, param: null, code: type } };
}

// ---------------------------------------------------------------- Anthropic messages

export function anthropicAnswer(turn: FakeTurn, ctx: WireContext): WireAnswer {
  const id = `msg_${ctx.turnIndex}`;
  const calls = turn.toolCalls ?? [];
  const stopReason = turn.finishReason ?? (calls.length > 0 ? "tool_use" : "end_turn");
  const usage = usageOf(turn);
  const frames: string[] = [
    event("message_start", {
      type: "message_start",
      message: {
        id,
        type: "message",
        role: "assistant",
        model: ctx.model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        // Anthropic counts cache reads apart from input_tokens; scenarios give the total (OpenAI's way).
        usage: {
          input_tokens: usage.input - usage.cached,
          output_tokens: 1,
          cache_read_input_tokens: usage.cached,
        },
      },
    }),
  ];
  let index = 0;
  if (turn.reasoning) {
    frames.push(
      event("content_block_start", {
        type: "content_block_start",
        index,
        content_block: { type: "thinking", thinking: "" },
      }),
    );
    for (const piece of splitText(turn.reasoning)) {
      frames.push(
        event("content_block_delta", {
          type: "content_block_delta",
          index,
          delta: { type: "thinking_delta", thinking: piece },
        }),
      );
    }
    frames.push(
      event("content_block_delta", {
        type: "content_block_delta",
        index,
        delta: { type: "signature_delta", signature: "fake-signature" },
      }),
    );
    frames.push(event("content_block_stop", { type: "content_block_stop", index }));
    index++;
  }
  const textChunks = textChunksOf(turn);
  if (textChunks.length > 0) {
    frames.push(
      event("content_block_start", {
        type: "content_block_start",
        index,
        content_block: { type: "text", text: "" },
      }),
    );
    for (const piece of textChunks) {
      frames.push(
        event("content_block_delta", {
          type: "content_block_delta",
          index,
          delta: { type: "text_delta", text: piece },
        }),
      );
    }
    frames.push(event("content_block_stop", { type: "content_block_stop", index }));
    index++;
  }
  calls.forEach((call, i) => {
    frames.push(
      event("content_block_start", {
        type: "content_block_start",
        index,
        content_block: { type: "tool_use", id: callId(turn, ctx.turnIndex, i), name: call.name, input: {} },
      }),
    );
    for (const fragment of splitArguments(argumentsTextOf(call))) {
      frames.push(
        event("content_block_delta", {
          type: "content_block_delta",
          index,
          delta: { type: "input_json_delta", partial_json: fragment },
        }),
      );
    }
    frames.push(event("content_block_stop", { type: "content_block_stop", index }));
    index++;
  });
  frames.push(
    event("message_delta", {
      type: "message_delta",
      delta: { stop_reason: stopReason, stop_sequence: null },
      usage: { output_tokens: usage.output },
    }),
  );
  frames.push(event("message_stop", { type: "message_stop" }));

  const content: unknown[] = [];
  if (turn.reasoning)
    content.push({ type: "thinking", thinking: turn.reasoning, signature: "fake-signature" });
  if (textChunks.length > 0) content.push({ type: "text", text: textChunks.join("") });
  calls.forEach((call, i) => {
    let input: unknown;
    try {
      input = JSON.parse(argumentsTextOf(call));
    } catch {
      input = argumentsTextOf(call); // not representable in a JSON answer; sent as a string
    }
    content.push({ type: "tool_use", id: callId(turn, ctx.turnIndex, i), name: call.name, input });
  });
  const json = {
    id,
    type: "message",
    role: "assistant",
    model: ctx.model,
    content,
    stop_reason: stopReason,
    stop_sequence: null,
    usage: {
      input_tokens: usage.input - usage.cached,
      output_tokens: usage.output,
      cache_read_input_tokens: usage.cached,
    },
  };
  return { frames, json };
}

export function anthropicError(status: number, message: string): unknown {
  const type =
    status === 429
      ? "rate_limit_error"
      : status === 529
        ? "overloaded_error"
        : status === 401
          ? "authentication_error"
          : status === 403
            ? "permission_error"
            : status === 404
              ? "not_found_error"
              : status >= 500
                ? "api_error"
                : "invalid_request_error";
  return { type: "error", error: { type, message } };
}

function data(value: unknown): string {
  return `data: ${JSON.stringify(value)}\n\n`;
}

function event(name: string, value: unknown): string {
  return `event: ${name}\ndata: ${JSON.stringify(value)}\n\n`;
}

// ---------------------------------------------------------------- Google Gemini (generateContent)

/**
 * Gemini's `streamGenerateContent?alt=sse`: every SSE event is a whole `GenerateContentResponse`. Text
 * and reasoning (`thought: true`) stream as one part per chunk; a function call arrives whole in one
 * part (Gemini streams no argument fragments unless a client asks for `streamFunctionCallArguments`,
 * which ours does not). Arguments that are not JSON are sent as the raw string, which the AI SDK
 * accepts. The last chunk carries `finishReason` and `usageMetadata`.
 */
export function googleAnswer(turn: FakeTurn, ctx: WireContext): WireAnswer {
  const responseId = `resp-${ctx.turnIndex}`;
  const calls = turn.toolCalls ?? [];
  const usage = usageOf(turn);
  const usageMetadata = {
    promptTokenCount: usage.input,
    candidatesTokenCount: usage.output,
    totalTokenCount: usage.input + usage.output,
    ...(usage.cached > 0 ? { cachedContentTokenCount: usage.cached } : {}),
  };
  const functionCall = (call: FakeToolCall, i: number) => ({
    functionCall: { id: callId(turn, ctx.turnIndex, i), name: call.name, args: argsValue(call) },
  });
  const chunk = (parts: unknown[], extra: Record<string, unknown> = {}) =>
    data({
      candidates: [{ content: { role: "model", parts }, index: 0, ...extra }],
      modelVersion: ctx.model,
      responseId,
    });

  const frames: string[] = [];
  if (turn.reasoning)
    for (const piece of splitText(turn.reasoning)) frames.push(chunk([{ text: piece, thought: true }]));
  for (const piece of textChunksOf(turn)) frames.push(chunk([{ text: piece }]));
  calls.forEach((call, i) => {
    frames.push(chunk([functionCall(call, i)]));
  });
  const finishReason = turn.finishReason ?? "STOP";
  frames.push(
    data({
      candidates: [{ content: { role: "model", parts: [{ text: "" }] }, finishReason, index: 0 }],
      usageMetadata,
      modelVersion: ctx.model,
      responseId,
    }),
  );

  const parts: unknown[] = [];
  if (turn.reasoning) parts.push({ text: turn.reasoning, thought: true });
  const text = textChunksOf(turn).join("");
  if (text) parts.push({ text });
  calls.forEach((call, i) => {
    parts.push(functionCall(call, i));
  });
  const json = {
    candidates: [{ content: { role: "model", parts }, finishReason, index: 0 }],
    usageMetadata,
    modelVersion: ctx.model,
    responseId,
  };
  return { frames, json };
}

/** Google's error body: `{ error: { code, message, status } }` with the gRPC status name. */
export function googleError(status: number, message: string): unknown {
  const grpc =
    status === 429
      ? "RESOURCE_EXHAUSTED"
      : status === 401
        ? "UNAUTHENTICATED"
        : status === 403
          ? "PERMISSION_DENIED"
          : status === 404
            ? "NOT_FOUND"
            : status === 503
              ? "UNAVAILABLE"
              : status >= 500
                ? "INTERNAL"
                : "INVALID_ARGUMENT";
  return { error: { code: status, message, status: grpc } };
}

// ---------------------------------------------------------------- OpenAI Responses API

/**
 * OpenAI's Responses API (`POST /v1/responses`), what `provider: openai` calls without a base URL:
 * `response.created`, then per output item `response.output_item.added`, its deltas
 * (`response.reasoning_summary_text.delta`, `response.output_text.delta`,
 * `response.function_call_arguments.delta` in three fragments), `response.output_item.done`, and
 * finally `response.completed` with the usage. Errors use the chat completions body (`openaiError`).
 */
export function openaiResponsesAnswer(turn: FakeTurn, ctx: WireContext): WireAnswer {
  const id = `resp_${ctx.turnIndex}`;
  const createdAt = 1_700_000_000 + ctx.turnIndex;
  const calls = turn.toolCalls ?? [];
  const usage = usageOf(turn);
  let sequence = 0;
  const ev = (type: string, value: Record<string, unknown>) =>
    event(type, { type, sequence_number: sequence++, ...value });
  const frames: string[] = [
    ev("response.created", {
      response: {
        id,
        object: "response",
        created_at: createdAt,
        model: ctx.model,
        status: "in_progress",
        output: [],
      },
    }),
  ];
  const output: unknown[] = [];
  let outputIndex = 0;

  if (turn.reasoning) {
    const itemId = `rs_${ctx.turnIndex}`;
    const index = outputIndex++;
    frames.push(
      ev("response.output_item.added", {
        output_index: index,
        item: { type: "reasoning", id: itemId, summary: [] },
      }),
    );
    frames.push(
      ev("response.reasoning_summary_part.added", {
        item_id: itemId,
        output_index: index,
        summary_index: 0,
        part: { type: "summary_text", text: "" },
      }),
    );
    for (const piece of splitText(turn.reasoning)) {
      frames.push(
        ev("response.reasoning_summary_text.delta", {
          item_id: itemId,
          output_index: index,
          summary_index: 0,
          delta: piece,
        }),
      );
    }
    const item = {
      type: "reasoning",
      id: itemId,
      encrypted_content: null,
      summary: [{ type: "summary_text", text: turn.reasoning }],
    };
    frames.push(ev("response.output_item.done", { output_index: index, item }));
    output.push(item);
  }

  const textChunks = textChunksOf(turn);
  if (textChunks.length > 0) {
    const itemId = `msg_${ctx.turnIndex}`;
    const index = outputIndex++;
    frames.push(
      ev("response.output_item.added", {
        output_index: index,
        item: { type: "message", id: itemId, role: "assistant", status: "in_progress", content: [] },
      }),
    );
    for (const piece of textChunks) {
      frames.push(
        ev("response.output_text.delta", {
          item_id: itemId,
          output_index: index,
          content_index: 0,
          delta: piece,
          logprobs: [],
        }),
      );
    }
    const item = {
      type: "message",
      id: itemId,
      role: "assistant",
      status: "completed",
      content: [{ type: "output_text", text: textChunks.join(""), annotations: [] }],
    };
    frames.push(ev("response.output_item.done", { output_index: index, item }));
    output.push(item);
  }

  calls.forEach((call, i) => {
    const itemId = `fc_${ctx.turnIndex}_${i}`;
    const index = outputIndex++;
    const base = {
      type: "function_call",
      id: itemId,
      call_id: callId(turn, ctx.turnIndex, i),
      name: call.name,
    };
    frames.push(
      ev("response.output_item.added", {
        output_index: index,
        item: { ...base, arguments: "", status: "in_progress" },
      }),
    );
    for (const fragment of splitArguments(argumentsTextOf(call))) {
      frames.push(
        ev("response.function_call_arguments.delta", {
          item_id: itemId,
          output_index: index,
          delta: fragment,
        }),
      );
    }
    const item = { ...base, arguments: argumentsTextOf(call), status: "completed" };
    frames.push(ev("response.output_item.done", { output_index: index, item }));
    output.push(item);
  });

  // The Responses API reports why an answer stopped early in `incomplete_details` (e.g. max_output_tokens).
  const incomplete =
    turn.finishReason && !["stop", "tool_calls", "completed"].includes(turn.finishReason)
      ? { reason: turn.finishReason }
      : null;
  const response = {
    id,
    object: "response",
    created_at: createdAt,
    model: ctx.model,
    status: incomplete ? "incomplete" : "completed",
    output,
    incomplete_details: incomplete,
    usage: {
      input_tokens: usage.input,
      input_tokens_details: { cached_tokens: usage.cached },
      output_tokens: usage.output,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: usage.input + usage.output,
    },
  };
  frames.push(ev(incomplete ? "response.incomplete" : "response.completed", { response }));
  return { frames, json: response };
}

function argsValue(call: FakeToolCall): unknown {
  const text = argumentsTextOf(call);
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
