import type { EntourageEvent } from "../core/index.ts";
import { errorMessage, SystemError, UserError } from "../core/index.ts";
import { type OtlpTraceRequest, otlpTraceRequest, type TraceResource } from "./otlp-json.ts";
import { runSpans, traceIdOf } from "./spans.ts";

/** Where and how traces go: resolved from the standard `OTEL_EXPORTER_OTLP_*` variables (or flags). */
export interface OtlpConfig {
  /** The full URL spans are POSTed to (`…/v1/traces`). */
  url: string;
  headers: Record<string, string>;
  timeoutMs: number;
  resource: TraceResource;
}

type Env = Record<string, string | undefined>;

const DEFAULT_TIMEOUT_MS = 10_000;

/**
 * The exporter's settings from the environment, as every OpenTelemetry SDK reads them:
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (the URL as is) or `OTEL_EXPORTER_OTLP_ENDPOINT` (a base URL, to
 * which `/v1/traces` is added); `OTEL_EXPORTER_OTLP_HEADERS` and `…_TRACES_HEADERS` (`k=v,k2=v2`,
 * URL-encoded values; the traces one wins per key); `OTEL_EXPORTER_OTLP_TIMEOUT` and `…_TRACES_TIMEOUT`
 * (milliseconds); `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES`. `endpoint` (a flag) is a base URL
 * like `OTEL_EXPORTER_OTLP_ENDPOINT` and wins over both. Undefined when no endpoint is set: tracing is off.
 * Only OTLP/HTTP with JSON is spoken; `OTEL_EXPORTER_OTLP_PROTOCOL=grpc` is refused with the fix.
 */
export function otlpConfig(env: Env, options: { endpoint?: string } = {}): OtlpConfig | undefined {
  const tracesEndpoint = nonEmpty(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
  const base = nonEmpty(options.endpoint) ?? nonEmpty(env.OTEL_EXPORTER_OTLP_ENDPOINT);
  if (!options.endpoint && tracesEndpoint === undefined && base === undefined) return undefined;
  const protocol =
    nonEmpty(env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL) ?? nonEmpty(env.OTEL_EXPORTER_OTLP_PROTOCOL);
  if (protocol === "grpc")
    throw new UserError(
      "otlp_protocol_unsupported",
      "Entourage sends traces over OTLP/HTTP (JSON), not gRPC: point OTEL_EXPORTER_OTLP_ENDPOINT at the receiver's HTTP port (4318 by default) and unset OTEL_EXPORTER_OTLP_PROTOCOL.",
    );
  const url =
    options.endpoint !== undefined
      ? tracesUrl(options.endpoint, "--endpoint")
      : tracesEndpoint !== undefined
        ? checkedUrl(tracesEndpoint, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        : tracesUrl(base!, "OTEL_EXPORTER_OTLP_ENDPOINT");
  return {
    url,
    headers: {
      ...parseHeaders(env.OTEL_EXPORTER_OTLP_HEADERS, "OTEL_EXPORTER_OTLP_HEADERS"),
      ...parseHeaders(env.OTEL_EXPORTER_OTLP_TRACES_HEADERS, "OTEL_EXPORTER_OTLP_TRACES_HEADERS"),
    },
    timeoutMs:
      parseTimeout(env.OTEL_EXPORTER_OTLP_TRACES_TIMEOUT, "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT") ??
      parseTimeout(env.OTEL_EXPORTER_OTLP_TIMEOUT, "OTEL_EXPORTER_OTLP_TIMEOUT") ??
      DEFAULT_TIMEOUT_MS,
    resource: traceResource(env),
  };
}

/**
 * The settings for exporting every run as it ends: none when no endpoint is set, or when tracing is turned
 * off the standard way (`OTEL_SDK_DISABLED=true`, `OTEL_TRACES_EXPORTER=none`).
 */
export function runEndOtlpConfig(env: Env): OtlpConfig | undefined {
  if (nonEmpty(env.OTEL_SDK_DISABLED)?.toLowerCase() === "true") return undefined;
  if (nonEmpty(env.OTEL_TRACES_EXPORTER)?.toLowerCase() === "none") return undefined;
  return otlpConfig(env);
}

/** `service.name` (`OTEL_SERVICE_NAME`, default `entourage`) and `OTEL_RESOURCE_ATTRIBUTES`. */
export function traceResource(env: Env): TraceResource {
  const attributes = parseHeaders(env.OTEL_RESOURCE_ATTRIBUTES, "OTEL_RESOURCE_ATTRIBUTES");
  return {
    serviceName: nonEmpty(env.OTEL_SERVICE_NAME) ?? attributes["service.name"] ?? "entourage",
    attributes,
  };
}

function nonEmpty(value: string | undefined): string | undefined {
  const v = value?.trim();
  return v ? v : undefined;
}

function checkedUrl(value: string, source: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UserError(
      "otlp_endpoint_invalid",
      `${source} is not a URL: "${value}". Use the receiver's OTLP/HTTP address, e.g. http://localhost:4318`,
    );
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new UserError(
      "otlp_endpoint_invalid",
      `${source} must be an http:// or https:// URL (OTLP/HTTP), got "${value}"; e.g. http://localhost:4318`,
    );
  return url.toString();
}

/** A base URL + `v1/traces`, as the spec says for `OTEL_EXPORTER_OTLP_ENDPOINT`; kept if already there. */
function tracesUrl(base: string, source: string): string {
  const url = new URL(checkedUrl(base, source));
  if (!url.pathname.replace(/\/+$/, "").endsWith("/v1/traces"))
    url.pathname = `${url.pathname.replace(/\/+$/, "")}/v1/traces`;
  return url.toString();
}

/** `k=v,k2=v2` with URL-encoded values (the W3C baggage-like format the OTel spec uses). */
export function parseHeaders(value: string | undefined, source: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (value ?? "").split(",")) {
    if (!part.trim()) continue;
    const eq = part.indexOf("=");
    const key = eq > 0 ? part.slice(0, eq).trim() : "";
    if (!key)
      throw new UserError(
        "otlp_headers_invalid",
        `${source} has an entry without a key=value form: "${part.trim()}". Write it as key=value,key2=value2.`,
      );
    try {
      out[decodeURIComponent(key)] = decodeURIComponent(part.slice(eq + 1).trim());
    } catch {
      throw new UserError("otlp_headers_invalid", `${source}: "${part.trim()}" is not valid URL encoding.`);
    }
  }
  return out;
}

function parseTimeout(value: string | undefined, source: string): number | undefined {
  const v = nonEmpty(value);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0)
    throw new UserError(
      "otlp_timeout_invalid",
      `${source} must be a positive number of milliseconds, got "${v}".`,
    );
  return n;
}

/** The URL without credentials, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.username || u.password) {
      u.username = "***";
      u.password = "";
    }
    return u.toString();
  } catch {
    return url;
  }
}

export interface SendResult {
  spans: number;
  /** Spans the receiver said it dropped (OTLP partial success). */
  rejectedSpans: number;
  rejectedMessage?: string;
}

/**
 * POSTs one export request (OTLP/HTTP, JSON). Fails with a `SystemError` naming the URL: `otlp_unreachable`
 * (refused, DNS, timeout) or `otlp_rejected` (any status but 2xx, with the status and the start of the body).
 */
export async function sendTraces(
  config: OtlpConfig,
  request: OtlpTraceRequest,
  fetchImpl: typeof fetch = fetch,
): Promise<SendResult> {
  const spans = request.resourceSpans.reduce(
    (n, r) => n + r.scopeSpans.reduce((m, s) => m + s.spans.length, 0),
    0,
  );
  const where = redactUrl(config.url);
  let response: Response;
  try {
    response = await fetchImpl(config.url, {
      method: "POST",
      headers: { ...config.headers, "content-type": "application/json" },
      body: JSON.stringify(request),
      signal: AbortSignal.timeout(config.timeoutMs),
    });
  } catch (error) {
    const reason =
      error instanceof Error && error.name === "TimeoutError"
        ? `no answer within ${config.timeoutMs} ms`
        : causeOf(error);
    throw new SystemError("otlp_unreachable", `Could not send traces to ${where}: ${reason}.`, {
      cause: error,
      retryable: true,
    });
  }
  const text = await response.text().catch(() => "");
  if (!response.ok) {
    const body = text.trim().replace(/\s+/g, " ").slice(0, 200);
    throw new SystemError(
      "otlp_rejected",
      `The OTLP receiver at ${where} answered HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ""}${body ? `: ${body}` : ""}.`,
      { retryable: response.status === 429 || response.status >= 500 },
    );
  }
  const partial = partialSuccess(text);
  return { spans, rejectedSpans: partial.rejectedSpans, rejectedMessage: partial.errorMessage };
}

function causeOf(error: unknown): string {
  const cause = (error as { cause?: unknown }).cause;
  const code = (cause as { code?: string } | undefined)?.code;
  const message = cause ? errorMessage(cause) : errorMessage(error);
  return code && !message.includes(code) ? `${code} ${message}` : message;
}

function partialSuccess(text: string): { rejectedSpans: number; errorMessage?: string } {
  try {
    const body = JSON.parse(text) as {
      partialSuccess?: { rejectedSpans?: string | number; errorMessage?: string };
    };
    const rejected = Number(body.partialSuccess?.rejectedSpans ?? 0);
    return {
      rejectedSpans: Number.isFinite(rejected) ? rejected : 0,
      errorMessage: body.partialSuccess?.errorMessage || undefined,
    };
  } catch {
    return { rejectedSpans: 0 };
  }
}

export interface ExportResult extends SendResult {
  traceId: string;
  url: string;
}

/** Derives a run's spans from its events and sends them. */
export async function exportRunTrace(
  events: readonly EntourageEvent[],
  config: OtlpConfig,
  fetchImpl: typeof fetch = fetch,
): Promise<ExportResult> {
  const request = otlpTraceRequest(runSpans(events), config.resource);
  const result = await sendTraces(config, request, fetchImpl);
  return { ...result, traceId: traceIdOf(events[0]?.runId ?? ""), url: redactUrl(config.url) };
}
