import type { Attributes, AttributeValue, TraceSpan } from "./spans.ts";

/** What the trace says about who sent it: `service.name` and any `OTEL_RESOURCE_ATTRIBUTES`. */
export interface TraceResource {
  serviceName: string;
  attributes?: Record<string, string>;
}

/** The instrumentation scope every span is reported under. */
export const SCOPE_NAME = "entourage";

type OtlpValue =
  | { stringValue: string }
  | { boolValue: boolean }
  | { intValue: string }
  | { doubleValue: number }
  | { arrayValue: { values: OtlpValue[] } };

function value(v: AttributeValue): OtlpValue {
  if (typeof v === "string") return { stringValue: v };
  if (typeof v === "boolean") return { boolValue: v };
  if (typeof v === "number") return Number.isInteger(v) ? { intValue: String(v) } : { doubleValue: v };
  return { arrayValue: { values: v.map((s) => ({ stringValue: s })) } };
}

function attributes(attrs: Attributes): { key: string; value: OtlpValue }[] {
  return Object.entries(attrs).map(([key, v]) => ({ key, value: value(v) }));
}

/** Milliseconds since the epoch (possibly fractional) as OTLP's nanoseconds, a decimal string. */
export function unixNanos(ms: number): string {
  const whole = Math.floor(ms);
  return (BigInt(whole) * 1_000_000n + BigInt(Math.round((ms - whole) * 1_000_000))).toString();
}

const KIND = { internal: 1, client: 3 } as const;
const STATUS_ERROR = 2;

/**
 * An `ExportTraceServiceRequest` in OTLP's JSON encoding (what `POST /v1/traces` takes with
 * `Content-Type: application/json`): ids in hex, times as decimal nanosecond strings, enums as integers,
 * 64-bit integers as strings.
 */
export function otlpTraceRequest(spans: readonly TraceSpan[], resource: TraceResource) {
  return {
    resourceSpans: [
      {
        resource: {
          attributes: attributes({ ...resource.attributes, "service.name": resource.serviceName }),
        },
        scopeSpans: [
          {
            scope: { name: SCOPE_NAME },
            spans: spans.map((s) => ({
              traceId: s.traceId,
              spanId: s.spanId,
              ...(s.parentSpanId ? { parentSpanId: s.parentSpanId } : {}),
              name: s.name,
              kind: KIND[s.kind],
              startTimeUnixNano: unixNanos(s.startMs),
              endTimeUnixNano: unixNanos(s.endMs),
              attributes: attributes(s.attributes),
              events: s.events.map((e) => ({
                timeUnixNano: unixNanos(e.timeMs),
                name: e.name,
                attributes: attributes(e.attributes),
              })),
              links: s.links.map((l) => ({
                traceId: l.traceId,
                spanId: l.spanId,
                attributes: attributes(l.attributes),
              })),
              status: s.status
                ? { code: STATUS_ERROR, ...(s.status.message ? { message: s.status.message } : {}) }
                : {},
            })),
          },
        ],
      },
    ],
  };
}

export type OtlpTraceRequest = ReturnType<typeof otlpTraceRequest>;
