import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseSse } from "../../../src/cli/remote/api-client.ts";
import { SseParser } from "../../../src/core/sse.ts";
import { followStream, type StreamStatus } from "./sse.ts";

describe("SseParser", () => {
  it("splits messages across chunk boundaries, keeps ids, joins multi-line data, skips comments", () => {
    const p = new SseParser();
    assert.deepEqual(p.push("retry: 1000\n\n: keep-alive\n\nid: 4\nda"), []);
    assert.deepEqual(p.push('ta: {"a":1}\n\nid: 5\r\ndata: x\r\ndata: y\r\n\r\n'), [
      { id: "4", data: '{"a":1}' },
      { id: "5", data: "x\ny" },
    ]);
  });
});

/** A fetch that serves scripted SSE answers in turn and records the Last-Event-ID of each request. */
function scriptedFetch(answers: (string | number)[]) {
  const seen: (string | undefined)[] = [];
  const fetchImpl = (async (_url: string, init: RequestInit) => {
    seen.push((init.headers as Record<string, string>)["last-event-id"]);
    const answer = answers.shift();
    if (answer === undefined) return new Promise(() => {});
    if (typeof answer === "number") return new Response("gone", { status: answer });
    return new Response(answer, { headers: { "content-type": "text/event-stream" } });
  }) as typeof fetch;
  return { fetchImpl, seen };
}

describe("followStream", () => {
  it("reconnects with the last id it saw and hands over messages once each", async () => {
    const ev = (seq: number) => `id: ${seq}\ndata: ${JSON.stringify({ seq })}\n\n`;
    // The first stream ends after 0..2; the server is down (503) once; then it resumes after 2.
    const { fetchImpl, seen } = scriptedFetch([ev(0) + ev(1) + ev(2), 503, ev(3) + ev(4)]);
    const got: number[] = [];
    const statuses: StreamStatus["state"][] = [];
    const stop = followStream<{ seq: number }>({
      url: "/runs/r/stream",
      parse: (m) => JSON.parse(m.data),
      onMessages: (items) => got.push(...items.map((i) => i.seq)),
      onStatus: (s) => statuses.push(s.state),
      fetch: fetchImpl,
      backoff: () => 1,
    });
    for (let i = 0; i < 100 && got.length < 5; i++) await new Promise((r) => setTimeout(r, 5));
    stop();
    assert.deepEqual(got, [0, 1, 2, 3, 4]);
    assert.deepEqual(seen.slice(0, 3), [undefined, "2", "2"]);
    assert.ok(statuses.includes("reconnecting"));
  });

  it("stops on a fatal status", async () => {
    const { fetchImpl } = scriptedFetch([404]);
    let failed = false;
    followStream({
      url: "/runs/x/stream",
      parse: (m) => m.data,
      onMessages: () => {},
      onStatus: (s) => {
        if (s.state === "failed") failed = true;
      },
      isFatal: (status) => status === 404,
      fetch: fetchImpl,
    });
    for (let i = 0; i < 50 && !failed; i++) await new Promise((r) => setTimeout(r, 5));
    assert.equal(failed, true);
  });
});

describe("one SSE reader for the CLI and the dashboard", () => {
  // What the two hand-written parsers disagreed on: a lone \r ends a line, `event:` is kept.
  const stream = "event: run\rid: 7\rdata: a\r\rid: 8\r\ndata:b\r\n\r\n: comment\n\ndata: c\n\n";
  const expected = [{ event: "run", id: "7", data: "a" }, { id: "8", data: "b" }, { data: "c" }];

  it("the dashboard's parser reads every line ending and the event field", () => {
    const p = new SseParser();
    const got = [...stream].flatMap((ch) => p.push(ch)); // one character per chunk: every boundary is a split
    assert.deepEqual(got, expected);
  });

  it("the CLI's attach reads the same messages from a byte stream", async () => {
    const bytes = new TextEncoder().encode(stream);
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < bytes.length; i += 5) c.enqueue(bytes.slice(i, i + 5));
        c.close();
      },
    });
    const got = [];
    for await (const m of parseSse(body)) got.push(m);
    assert.deepEqual(got, expected);
  });
});
