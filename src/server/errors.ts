import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { EntourageError, errorMessage } from "../core/index.ts";

/** The one error shape of the API: `{ error: { code, message } }`. */
export function apiError(c: Context, status: ContentfulStatusCode, code: string, message: string): Response {
  return c.json({ error: { code, message } }, status);
}

/** HTTP status for an engine error code; anything not listed that a person must fix is a 400. */
const STATUS_BY_CODE: Record<string, ContentfulStatusCode> = {
  run_not_found: 404,
  untrusted_repository: 403,
  approval_not_found: 404,
  approval_answered: 409,
  run_not_live: 409,
  run_live: 409,
  run_active: 409,
  run_finished: 409,
  checkout_changed: 409,
  already_applied: 409,
  apply_needs_review: 409,
  apply_in_progress: 409,
  apply_interrupted: 409,
  apply_interrupted_changed: 409,
  nothing_to_abort: 409,
  runs_not_accepted: 409,
  workspace_not_found: 410,
  lesson_not_found: 404,
  lesson_decided: 409,
  lesson_conflicts: 409,
};

/** Turns anything a handler threw into the API's error shape; only a real bug is a 500. */
export function errorResponse(error: unknown, c: Context, log: (error: unknown) => void): Response {
  if (error instanceof HTTPException) {
    const status = error.status as ContentfulStatusCode;
    const code =
      status === 413 ? "body_too_large" : status === 415 ? "unsupported_media_type" : "bad_request";
    const message = error.message || "Bad request.";
    const hint = /malformed json/i.test(message)
      ? " (send a JSON object, or no body and no Content-Type)"
      : "";
    return apiError(c, status, code, `${message}${hint}`);
  }
  if (EntourageError.isInstance(error)) {
    const status = STATUS_BY_CODE[error.code] ?? (error.name === "UserError" ? 400 : 500);
    if (status === 500) log(error);
    return apiError(c, status, error.code, error.message);
  }
  log(error);
  return apiError(c, 500, "internal_error", `Internal error: ${errorMessage(error)}`);
}
