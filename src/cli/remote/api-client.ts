import { type SseMessage, SseParser, SystemError, UserError } from "../../core/index.ts";

export type { SseMessage };

/** An error answer of the API: `{ error: { code, message } }` with its HTTP status. */
export class ApiError extends UserError {
  readonly status: number;
  constructor(status: number, code: string, message: string) {
    super(code, message);
    this.status = status;
  }
}

/** A small client for the Entourage HTTP API (what `attach` uses). */
export class ApiClient {
  readonly url: string;
  readonly #token: string | undefined;

  constructor(url: string, token?: string) {
    this.url = url.replace(/\/+$/, "");
    this.#token = token;
  }

  #headers(extra: Record<string, string> = {}): Record<string, string> {
    return this.#token ? { authorization: `Bearer ${this.#token}`, ...extra } : extra;
  }

  async #fetch(path: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(`${this.url}${path}`, init);
    } catch (error) {
      throw new SystemError(
        "server_unreachable",
        `No Entourage server answers at ${this.url} (${(error as Error).cause ?? (error as Error).message}). ` +
          "Start one with `entourage serve`, or pass the URL a run printed with --url.",
        { cause: error, retryable: true },
      );
    }
  }

  async #json<T>(response: Response): Promise<T> {
    const text = await response.text();
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    if (!response.ok) {
      const e = (body as { error?: { code?: string; message?: string } } | undefined)?.error;
      throw new ApiError(response.status, e?.code ?? `http_${response.status}`, e?.message ?? text);
    }
    return body as T;
  }

  async get<T>(path: string): Promise<T> {
    return this.#json<T>(await this.#fetch(path, { headers: this.#headers() }));
  }

  async post<T>(path: string, body?: unknown): Promise<T> {
    const init: RequestInit =
      body === undefined
        ? { method: "POST", headers: this.#headers() }
        : {
            method: "POST",
            headers: this.#headers({ "content-type": "application/json" }),
            body: JSON.stringify(body),
          };
    return this.#json<T>(await this.#fetch(path, init));
  }

  /** Opens an SSE stream; yields its messages until the server ends it or `signal` aborts. */
  async *stream(
    path: string,
    lastEventId: string | undefined,
    signal: AbortSignal,
  ): AsyncGenerator<SseMessage> {
    const headers = this.#headers({ accept: "text/event-stream" });
    if (lastEventId !== undefined) headers["last-event-id"] = lastEventId;
    const response = await this.#fetch(path, { headers, signal });
    if (!response.ok || !response.body) await this.#json(response);
    yield* parseSse(response.body!, signal);
  }
}

/** Parses an SSE byte stream (text/event-stream) into messages (src/core/sse.ts). */
export async function* parseSse(
  body: ReadableStream<Uint8Array>,
  signal?: AbortSignal,
): AsyncGenerator<SseMessage> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const parser = new SseParser();
  try {
    for (;;) {
      if (signal?.aborted) return;
      const { value, done } = await reader.read();
      if (done) return;
      yield* parser.push(decoder.decode(value, { stream: true }));
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}
