/**
 * One error family for the whole engine. Every error carries a stable `code`, a human message that says
 * what happened, why and what to do next, and an optional `cause`. `isInstance` works across copies of
 * the module (a marker symbol rather than `instanceof`), like vercel/ai's provider errors.
 *
 * Split by who must act:
 * - `UserError`: the person running Entourage must fix something (a flag, a file, a key). Exit code 2.
 * - `ModelError` / tool errors: returned to the model as tool output, never thrown to the user.
 * - `SystemError`: something outside failed (network, provider, disk); `retryable` says if trying again helps.
 */
const marker = Symbol.for("entourage.error");

export class EntourageError extends Error {
  readonly [marker] = true;
  readonly code: string;
  override readonly cause?: unknown;

  constructor(code: string, message: string, options: { cause?: unknown } = {}) {
    super(message);
    this.name = "EntourageError";
    this.code = code;
    if (options.cause !== undefined) this.cause = options.cause;
  }

  static isInstance(value: unknown): value is EntourageError {
    return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[marker] === true;
  }
}

/** The user must act: bad flag, missing key, unreadable repo. The CLI prints the message and exits 2. */
export class UserError extends EntourageError {
  constructor(code: string, message: string, options: { cause?: unknown } = {}) {
    super(code, message, options);
    this.name = "UserError";
  }

  static override isInstance(value: unknown): value is UserError {
    return EntourageError.isInstance(value) && value.name === "UserError";
  }
}

/** Something outside failed. `retryable` tells the caller whether trying again can help. */
export class SystemError extends EntourageError {
  readonly retryable: boolean;

  constructor(code: string, message: string, options: { cause?: unknown; retryable?: boolean } = {}) {
    super(code, message, options);
    this.name = "SystemError";
    this.retryable = options.retryable ?? false;
  }

  static override isInstance(value: unknown): value is SystemError {
    return EntourageError.isInstance(value) && value.name === "SystemError";
  }
}

/**
 * The model must act: invalid tool input, no match for an edit, a path outside the workspace.
 * Tools throw it; the tool wrapper turns it into the tool result text the model reads.
 */
export class ToolInputError extends EntourageError {
  constructor(message: string, options: { cause?: unknown; code?: string } = {}) {
    super(options.code ?? "tool_input", message, options);
    this.name = "ToolInputError";
  }

  static override isInstance(value: unknown): value is ToolInputError {
    return EntourageError.isInstance(value) && value.name === "ToolInputError";
  }
}

/** The run was aborted (SIGINT, cancel, interrupt). Not a failure of anything. */
export class AbortedError extends EntourageError {
  constructor(message = "aborted", options: { cause?: unknown } = {}) {
    super("aborted", message, options);
    this.name = "AbortedError";
  }

  static override isInstance(value: unknown): value is AbortedError {
    return EntourageError.isInstance(value) && value.name === "AbortedError";
  }
}

/** Message of any thrown value, for places that must print something. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
