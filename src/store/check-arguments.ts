import { EntourageError } from "../core/errors.ts";

/** `"*"` is the subscribe wildcard and the empty string is nothing; neither names a run. */
export function checkRunId(runId: string): void {
  if (typeof runId !== "string" || runId === "" || runId === "*") {
    throw new EntourageError(
      "invalid_run_id",
      `Invalid run id ${JSON.stringify(runId)}: expected a non-empty id other than "*".`,
    );
  }
}

/** Normalises `read` options; both backends accept the same values and reject the same mistakes. */
export function checkReadOptions(options: { fromSeq?: number; limit?: number }): {
  fromSeq: number;
  limit: number | undefined;
} {
  const fromSeq = options.fromSeq ?? 0;
  if (!Number.isInteger(fromSeq) || fromSeq < 0) {
    throw new EntourageError(
      "invalid_argument",
      `read: fromSeq must be a non-negative integer, got ${fromSeq}.`,
    );
  }
  return { fromSeq, limit: checkLimit(options.limit) };
}

export function checkLimit(limit: number | undefined): number | undefined {
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 0)) {
    throw new EntourageError("invalid_argument", `limit must be a non-negative integer, got ${limit}.`);
  }
  return limit;
}
