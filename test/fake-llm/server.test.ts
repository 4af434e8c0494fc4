import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { parseScenario } from "./scenario.ts";
import { type FakeModelServer, startFakeModelServer } from "./server.ts";

const here = fileURLToPath(new URL(".", import.meta.url));
const servers: FakeModelServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

async function start(scenario: Parameters<typeof startFakeModelServer>[0]["scenario"]) {
  const server = await startFakeModelServer({ scenario });
  servers.push(server);
  return server;
}

function post(url: string, body: unknown, signal?: AbortSignal) {
  return fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: "Bearer test-key" },
    body: JSON.stringify(body),
    signal,
  });
}

/** Parses an SSE body into its `data:` payloads (and `event:` names). */
function parseSse(text: string): { event?: string; data: string }[] {
  return text
    .split("\n\n")
    .filter((block) => block.trim())
    .map((block) => {
      const lines = block.split("\n");
      const event = lines.find((l) => l.startsWith("event: "))?.slice(7);
      const data = lines.find((l) => l.startsWith("data: "))?.slice(6) ?? "";
      return event ? { event, data } : { data };
    });
}

const openaiTools = [
  { type: "function", function: { name: "read_file", parameters: { type: "object" } } },
  { type: "function", function: { name: "edit_file", parameters: { type: "object" } } },
];

describe("OpenAI chat completions", () => {
  test("streams text in several chunks, tool-call deltas with index/id/name/argument fragments, usage and [DONE]", async () => {
    const server = await start([
      {
        text: "I will read the file now.",
        toolCalls: [{ id: "call_a", name: "read_file", arguments: { path: "src/index.ts" } }],
        usage: { inputTokens: 100, outputTokens: 20, cachedInputTokens: 40 },
      },
    ]);
    const res = await post(`${server.baseUrl}/chat/completions`, {
      model: "gpt-test",
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: "user", content: "fix the bug" }],
      tools: openaiTools,
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /text\/event-stream/);
    const events = parseSse(await res.text());
    assert.equal(events.at(-1)?.data, "[DONE]");
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.data));
    const text = chunks.map((c) => c.choices[0]?.delta?.content ?? "").join("");
    assert.equal(text, "I will read the file now.");
    assert.ok(
      chunks.filter((c) => c.choices[0]?.delta?.content).length >= 3,
      "text arrives in several chunks",
    );

    const toolDeltas = chunks.flatMap((c) => c.choices[0]?.delta?.tool_calls ?? []);
    assert.equal(toolDeltas[0].index, 0);
    assert.equal(toolDeltas[0].id, "call_a");
    assert.equal(toolDeltas[0].function.name, "read_file");
    assert.ok(toolDeltas.length > 1, "arguments arrive in fragments");
    assert.deepEqual(JSON.parse(toolDeltas.map((d) => d.function.arguments).join("")), {
      path: "src/index.ts",
    });
    assert.equal(chunks.find((c) => c.choices[0]?.finish_reason)?.choices[0].finish_reason, "tool_calls");
    const usage = chunks.find((c) => c.usage)?.usage;
    assert.deepEqual(usage, {
      prompt_tokens: 100,
      completion_tokens: 20,
      total_tokens: 120,
      prompt_tokens_details: { cached_tokens: 40 },
    });
    assert.deepEqual(server.failures, []);
  });

  test("answers without a usage chunk when the client did not ask for one, and as JSON when not streaming", async () => {
    const server = await start([
      { text: "one" },
      { text: "two", toolCalls: [{ name: "read_file", arguments: {} }] },
    ]);
    const streamed = parseSse(
      await (await post(`${server.baseUrl}/chat/completions`, { stream: true, messages: [] })).text(),
    );
    assert.ok(!streamed.some((e) => e.data !== "[DONE]" && JSON.parse(e.data).usage));

    const res = await post(`${server.baseUrl}/chat/completions`, { model: "m", messages: [] });
    const json = await res.json();
    assert.equal(json.object, "chat.completion");
    assert.equal(json.choices[0].message.content, "two");
    assert.equal(json.choices[0].message.tool_calls[0].function.name, "read_file");
    assert.equal(json.choices[0].message.tool_calls[0].function.arguments, "{}");
    assert.equal(json.choices[0].finish_reason, "tool_calls");
    assert.equal(json.usage.prompt_tokens, 10);
  });

  test("sends raw argumentsText unchanged, so clients can be tested with malformed JSON", async () => {
    const server = await start([{ toolCalls: [{ name: "read_file", argumentsText: '{"path": "a.ts"' }] }]);
    const json = await (await post(`${server.baseUrl}/chat/completions`, { messages: [] })).json();
    assert.equal(json.choices[0].message.tool_calls[0].function.arguments, '{"path": "a.ts"');
  });
});

describe("Anthropic messages", () => {
  test("streams the message_start … message_stop event sequence with text, thinking and tool_use blocks", async () => {
    const server = await start([
      {
        reasoning: "The bug is in the parser.",
        text: "Reading it.",
        toolCalls: [{ id: "toolu_1", name: "read_file", arguments: { path: "p.ts" } }],
        usage: { inputTokens: 50, outputTokens: 9 },
      },
    ]);
    const res = await post(`${server.baseUrl}/messages`, {
      model: "claude-test",
      stream: true,
      system: "be brief",
      messages: [{ role: "user", content: "go" }],
    });
    const events = parseSse(await res.text());
    const names = events.map((e) => e.event);
    assert.equal(names[0], "message_start");
    assert.equal(names.at(-1), "message_stop");
    assert.equal(names.at(-2), "message_delta");
    const data = events.map((e) => JSON.parse(e.data));
    const blocks = data.filter((d) => d.type === "content_block_start").map((d) => d.content_block.type);
    assert.deepEqual(blocks, ["thinking", "text", "tool_use"]);
    const text = data
      .filter((d) => d.delta?.type === "text_delta")
      .map((d) => d.delta.text)
      .join("");
    assert.equal(text, "Reading it.");
    const json = data
      .filter((d) => d.delta?.type === "input_json_delta")
      .map((d) => d.delta.partial_json)
      .join("");
    assert.deepEqual(JSON.parse(json), { path: "p.ts" });
    const delta = data.find((d) => d.type === "message_delta");
    assert.equal(delta.delta.stop_reason, "tool_use");
    assert.equal(delta.usage.output_tokens, 9);
    assert.equal(data[0].message.usage.input_tokens, 50);
  });

  test("answers as one JSON message when not streaming", async () => {
    const server = await start([
      { text: "hi", toolCalls: [{ id: "t", name: "edit_file", arguments: { a: 1 } }] },
    ]);
    const json = await (await post(`${server.baseUrl}/messages`, { model: "c", messages: [] })).json();
    assert.equal(json.type, "message");
    assert.deepEqual(json.content, [
      { type: "text", text: "hi" },
      { type: "tool_use", id: "t", name: "edit_file", input: { a: 1 } },
    ]);
    assert.equal(json.stop_reason, "tool_use");
  });
});

describe("expectations, exhaustion and recording", () => {
  test("a missing tool answers 400 with a message naming it, and the failure is recorded", async () => {
    const server = await start([{ name: "edit", expectTools: ["read_file", "run_command"], text: "x" }]);
    const res = await post(`${server.baseUrl}/chat/completions`, { messages: [], tools: openaiTools });
    assert.equal(res.status, 400);
    const body = await res.json();
    assert.match(
      body.error.message,
      /turn 0 \(edit\) expected tools \[run_command\].*offered \[read_file, edit_file\]/,
    );
    assert.equal(server.failures.length, 1);
  });

  test("expectMessageContains checks the request messages, the Anthropic system prompt included", async () => {
    const server = await start([
      { expectMessageContains: ["You are careful", 'said "ok"'], text: "fine" },
      { expectMessageContains: ["never sent"], text: "x" },
    ]);
    const ok = await post(`${server.baseUrl}/messages`, {
      system: "You are careful",
      messages: [{ role: "user", content: 'she said "ok"' }],
    });
    assert.equal(ok.status, 200);
    const bad = await post(`${server.baseUrl}/messages`, { messages: [{ role: "user", content: "hello" }] });
    assert.equal(bad.status, 400);
    assert.equal((await bad.json()).error.type, "invalid_request_error");
    assert.match(server.failures[0] ?? "", /expected the request messages to contain "never sent"/);
  });

  test("an exhausted scenario answers 500 with a clear message", async () => {
    const server = await start([{ text: "only one" }]);
    await (await post(`${server.baseUrl}/chat/completions`, { messages: [] })).text();
    assert.equal(server.remainingTurns(), 0);
    const res = await post(`${server.baseUrl}/chat/completions`, { messages: [] });
    assert.equal(res.status, 500);
    assert.match((await res.json()).error.message, /scenario exhausted: all 1 turns were used/);
    assert.equal(server.failures.length, 1);
  });

  test("records path, headers, parsed body and which turn answered", async () => {
    const server = await start([{ text: "a" }]);
    await (
      await post(`${server.baseUrl}/chat/completions`, {
        model: "m",
        messages: [{ role: "user", content: "q" }],
      })
    ).text();
    const [r] = server.requests;
    assert.ok(r);
    assert.equal(r.path, "/v1/chat/completions");
    assert.equal(r.api, "openai");
    assert.equal(r.headers.authorization, "Bearer test-key");
    assert.deepEqual(r.body.messages, [{ role: "user", content: "q" }]);
    assert.equal(r.turn, 0);
    assert.equal(r.ended, true);
  });

  test("an unknown route answers 404 without consuming a turn", async () => {
    const server = await start([{ text: "a" }]);
    const res = await post(`${server.baseUrl}/embeddings`, {});
    assert.equal(res.status, 404);
    const message = (await res.json()).error.message;
    for (const route of ["/v1/chat/completions", "/v1/responses", "/v1/messages", ":streamGenerateContent"]) {
      assert.ok(message.includes(route), `the 404 does not list ${route}: ${message}`);
    }
    assert.equal(server.remainingTurns(), 1);
  });

  test("per conversation, turns with `match` make one script per conversation, whatever the order", async () => {
    const server = await startFakeModelServer({
      perConversation: true,
      scenario: [
        { match: "task A", text: "A first" },
        { match: "task B", text: "B first" },
        { match: "task A", text: "A second" },
        { match: "task B", text: "B second" },
        { text: "shared last" },
      ],
    });
    servers.push(server);
    const answer = async (messages: unknown[]) => {
      const res = await post(`${server.baseUrl}/chat/completions`, { messages });
      return (await res.json()).choices[0].message.content as string;
    };
    const a = { role: "user", content: "do task A" };
    const b = { role: "user", content: "do task B" };
    const said = (content: string) => ({ role: "assistant", content });
    assert.equal(await answer([b]), "B first");
    assert.equal(await answer([a]), "A first");
    assert.equal(await answer([b, said("B first")]), "B second");
    assert.equal(await answer([a, said("A first")]), "A second");
    assert.equal(await answer([a, said("A first"), said("A second")]), "shared last");
    assert.equal(await answer([b, said("B first"), said("B second")]), "shared last");
    const exhausted = await post(`${server.baseUrl}/chat/completions`, {
      messages: [b, said("B first"), said("B second"), said("shared last")],
    });
    assert.equal(exhausted.status, 500);
  });

  test("a scenario with a misspelt key is rejected with the field's path", () => {
    assert.throws(
      () => parseScenario([{ text: "a", stallAfterChunk: 2 }]),
      /0: Unrecognized key.*stallAfterChunk/s,
    );
  });

  test("shared scenario files load and validate", async () => {
    for (const name of ["hello", "tool-then-answer", "flaky"]) {
      const server = await start(join(here, "scenarios", `${name}.json`));
      assert.ok(server.remainingTurns() > 0, name);
    }
  });
});

describe("faults", () => {
  test("429 carries retry-after and retry-after-ms headers and consumes its turn", async () => {
    const server = await start([{ status: 429, retryAfter: 2, retryAfterMs: 1500 }, { text: "ok" }]);
    const res = await post(`${server.baseUrl}/chat/completions`, { messages: [] });
    assert.equal(res.status, 429);
    assert.equal(res.headers.get("retry-after"), "2");
    assert.equal(res.headers.get("retry-after-ms"), "1500");
    assert.equal((await res.json()).error.type, "rate_limit_exceeded");
    assert.equal((await post(`${server.baseUrl}/chat/completions`, { messages: [] })).status, 200);
  });

  test("truncateAfterChunks cuts the socket mid-stream", async () => {
    const server = await start([{ text: "one two three four five six", truncateAfterChunks: 2 }]);
    const res = await post(`${server.baseUrl}/chat/completions`, { stream: true, messages: [] });
    assert.equal(res.status, 200);
    await assert.rejects(res.text(), /terminated/);
    assert.equal(server.requests[0]?.ended, false);
  });

  test("stallAfterChunks sends n chunks and then nothing, until the client goes away", async () => {
    const server = await start([{ text: "one two three four", stallAfterChunks: 2 }]);
    const controller = new AbortController();
    const res = await post(
      `${server.baseUrl}/chat/completions`,
      { stream: true, messages: [] },
      controller.signal,
    );
    const reader = res.body!.getReader();
    let received = "";
    const decoder = new TextDecoder();
    while ((received.match(/\n\n/g) ?? []).length < 2) {
      const { value } = await reader.read();
      received += decoder.decode(value);
    }
    const more = await Promise.race([reader.read(), new Promise((r) => setTimeout(() => r("silent"), 150))]);
    assert.equal(more, "silent");
    assert.equal((received.match(/\n\n/g) ?? []).length, 2);
    controller.abort();
    assert.equal(server.requests[0]?.ended, false);
  });

  test("delayMs and chunkDelayMs hold the answer back", async () => {
    const server = await start([{ text: "a b c", delayMs: 60, chunkDelayMs: 20 }]);
    const started = Date.now();
    const res = await post(`${server.baseUrl}/chat/completions`, { stream: true, messages: [] });
    await res.text();
    // 60 ms before the first byte, then 20 ms between each of the ≥ 5 frames.
    assert.ok(Date.now() - started >= 60 + 4 * 20 - 5);
  });
});

describe("main.ts", () => {
  test("prints the URL, serves the scenario and records each request as a JSON line", async () => {
    const dir = await mkdtemp(join(tmpdir(), "fake-llm-"));
    const record = join(dir, "requests.jsonl");
    const child = spawn(
      process.execPath,
      [join(here, "main.ts"), "--scenario", join(here, "scenarios", "hello.json"), "--record", record],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    try {
      const line = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout! }).once("line", resolve);
        child.once("exit", (code) => reject(new Error(`exited ${code}`)));
      });
      const url = /^listening (http:\/\/127\.0\.0\.1:\d+)$/.exec(line)?.[1];
      assert.ok(url, line);
      const json = await (await post(`${url}/v1/chat/completions`, { model: "m", messages: [] })).json();
      assert.equal(json.choices[0].message.content, "Hello from the fake model.");
      const lines = (await readFile(record, "utf8")).trim().split("\n");
      assert.equal(lines.length, 1);
      assert.equal(JSON.parse(lines[0]!).path, "/v1/chat/completions");
    } finally {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
      await rm(dir, { recursive: true, force: true });
    }
  });
});
