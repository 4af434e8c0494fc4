/**
 * The one reader of Server-Sent Events (text/event-stream) for every client of the API: the CLI's `attach`
 * and the dashboard. Parsing is eventsource-parser's (the spec's line endings — \r\n, \n and a lone \r —,
 * `event:`, `id:`, multi-line `data:`, comments, `retry:`); this wraps it to hand over, per chunk, the
 * messages that chunk completed, so a burst of events arriving together is handled as one batch.
 */
import { createParser } from "eventsource-parser";

export interface SseMessage {
  id?: string;
  /** The `event:` field; absent for the default (message) type. */
  event?: string;
  data: string;
}

export class SseParser {
  #out: SseMessage[] = [];
  #parser = createParser({
    onEvent: (m) => {
      const message: SseMessage = { data: m.data };
      if (m.id !== undefined) message.id = m.id;
      if (m.event !== undefined) message.event = m.event;
      this.#out.push(message);
    },
  });

  /** Feeds a decoded chunk; returns the messages it completed, in order (the unfinished tail is kept). */
  push(chunk: string): SseMessage[] {
    this.#parser.feed(chunk);
    const out = this.#out;
    this.#out = [];
    return out;
  }
}
