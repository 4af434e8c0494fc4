/**
 * A run's trace: its event log as OpenTelemetry spans (GenAI semantic conventions) and an OTLP/HTTP JSON
 * exporter. Derived from the log only, so a finished run exports the same trace again at any time.
 */
export * from "./exporter.ts";
export * from "./otlp-json.ts";
export * from "./spans.ts";
