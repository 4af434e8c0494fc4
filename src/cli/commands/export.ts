import { UserError } from "../../core/index.ts";
import {
  exportRunTrace,
  otlpConfig,
  otlpTraceRequest,
  runSpans,
  traceResource,
} from "../../telemetry/index.ts";
import { openStore } from "../compose.ts";
import { reportError } from "../terminal/exit.ts";

export interface ExportFlags {
  otlp?: boolean;
  /** The receiver's base URL, like OTEL_EXPORTER_OTLP_ENDPOINT (`/v1/traces` is added). */
  endpoint?: string;
  /** Print the OTLP JSON instead of sending it. */
  json?: boolean;
}

/**
 * `entourage export --otlp <run>`: the run's trace, derived from its log, sent to the OTLP/HTTP receiver of
 * `--endpoint` or `OTEL_EXPORTER_OTLP_*` — the same trace, ids included, as the one sent when the run ended —
 * or printed as OTLP JSON with `--json`.
 */
export async function exportCommand(runId: string, flags: ExportFlags): Promise<number> {
  try {
    if (!flags.otlp)
      throw new UserError(
        "export_format_missing",
        "Say which format to export: entourage export --otlp <run-id>",
      );
    const store = await openStore();
    let events: Awaited<ReturnType<typeof store.read>>;
    try {
      events = await store.read(runId);
    } finally {
      await store.close();
    }
    if (events.length === 0)
      throw new UserError("run_not_found", `No run with id ${runId}. List runs with: entourage runs`);
    if (flags.json) {
      const request = otlpTraceRequest(runSpans(events), traceResource(process.env));
      process.stdout.write(`${JSON.stringify(request)}\n`);
      return 0;
    }
    const config = otlpConfig(process.env, { endpoint: flags.endpoint });
    if (!config)
      throw new UserError(
        "otlp_endpoint_missing",
        "No OTLP endpoint: pass --endpoint http://localhost:4318 or set OTEL_EXPORTER_OTLP_ENDPOINT (or print the OTLP JSON with --json).",
      );
    const result = await exportRunTrace(events, config);
    const rejected = result.rejectedSpans
      ? `; the receiver dropped ${result.rejectedSpans}${result.rejectedMessage ? `: ${result.rejectedMessage}` : ""}`
      : "";
    process.stdout.write(
      `trace ${result.traceId} (${result.spans} spans) sent to ${result.url}${rejected}\n`,
    );
    return 0;
  } catch (error) {
    return reportError(error);
  }
}
