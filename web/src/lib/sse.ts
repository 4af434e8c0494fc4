/**
 * Server-Sent Events over fetch, for the run streams. The browser's EventSource gives up for good on a
 * non-200 answer (a server that is restarting answers that way for a moment) and cannot be told where
 * to resume after it was recreated; this reader sends `Last-Event-ID` itself on every reconnect, backs
 * off while the server is away, and drops anything it has already delivered (by seq), so a restart
 * neither loses nor repeats an event. Messages are parsed by the one SSE reader the CLI uses too.
 */
import { type SseMessage, SseParser } from "../../../src/core/sse.ts";

export type { SseMessage };

export type StreamStatus =
  | { state: "connecting"; attempt: number }
  | { state: "live" }
  | { state: "reconnecting"; attempt: number; reason: string }
  | { state: "failed"; reason: string };

export interface FollowOptions<T> {
  /** The stream's URL (same origin). */
  url: string;
  /** The id to resume after (sent as Last-Event-ID); undefined starts from the beginning. */
  lastId?: string;
  /** Parses one message; return undefined to skip it. */
  parse(message: SseMessage): T | undefined;
  /** A batch of new messages, in order. */
  onMessages(items: T[], lastId: string | undefined): void;
  onStatus?(status: StreamStatus): void;
  /** Called after every (re)connection, before its first message. */
  onConnect?(reconnect: boolean): void;
  /** A status that means "stop trying" (e.g. 404: the run does not exist). */
  isFatal?(status: number): boolean;
  fetch?: typeof fetch;
  /** Delay before reconnect attempt n (default 250 ms doubling to 3 s). */
  backoff?(attempt: number): number;
}

/**
 * Follows an SSE URL until the returned function is called, reconnecting with Last-Event-ID. Messages
 * arriving in one network chunk are handed over as one batch.
 */
export function followStream<T>(options: FollowOptions<T>): () => void {
  const doFetch = options.fetch ?? fetch.bind(globalThis);
  const backoff = options.backoff ?? ((n) => Math.min(3000, 250 * 2 ** Math.max(0, n - 1)));
  const abort = new AbortController();
  let lastId = options.lastId;

  const run = async () => {
    let attempt = 0;
    let connectedOnce = false;
    while (!abort.signal.aborted) {
      attempt += 1;
      options.onStatus?.(
        connectedOnce
          ? { state: "reconnecting", attempt, reason: "connecting" }
          : { state: "connecting", attempt },
      );
      let reason = "the stream ended";
      try {
        const headers: Record<string, string> = { accept: "text/event-stream" };
        if (lastId !== undefined) headers["last-event-id"] = lastId;
        const response = await doFetch(options.url, {
          headers,
          signal: abort.signal,
          cache: "no-store",
          credentials: "same-origin",
        });
        if (!response.ok || !response.body) {
          if (options.isFatal?.(response.status)) {
            options.onStatus?.({ state: "failed", reason: `HTTP ${response.status}` });
            return;
          }
          throw new Error(`HTTP ${response.status}`);
        }
        options.onConnect?.(connectedOnce);
        connectedOnce = true;
        attempt = 0;
        options.onStatus?.({ state: "live" });
        const parser = new SseParser();
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          const items: T[] = [];
          for (const message of parser.push(value)) {
            const item = options.parse(message);
            if (message.id !== undefined) lastId = message.id;
            if (item !== undefined) items.push(item);
          }
          if (items.length > 0) options.onMessages(items, lastId);
        }
      } catch (error) {
        if (abort.signal.aborted) return;
        reason = error instanceof Error ? error.message : String(error);
      }
      if (abort.signal.aborted) return;
      options.onStatus?.({ state: "reconnecting", attempt: attempt + 1, reason });
      await new Promise((resolve) => setTimeout(resolve, backoff(attempt + 1)));
    }
  };
  void run();
  return () => abort.abort();
}
