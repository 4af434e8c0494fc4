import type {
  ApprovalAnswer,
  CheckpointDiff,
  CreateRun,
  Diff,
  ForkResult,
  Intervention,
  LessonDecision,
  LessonDecisionResult,
  Lessons,
  RewindResult,
  RunDetail,
  RunStatus,
  RunSummary,
} from "../types.ts";

/** An API error as the server words it: `{ error: { code, message } }`. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  /** The whole answer, for errors that carry more than a message (409 lesson_conflicts names the lessons). */
  readonly body: unknown;
  constructor(status: number, code: string, message: string, body?: unknown) {
    super(message);
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

/**
 * Same-origin JSON calls. The session cookie (httpOnly) goes along by itself; the page never holds the
 * token.
 */
async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(path, {
    method,
    headers: {
      accept: "application/json",
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
    cache: "no-store",
  });
  const text = await response.text();
  const parsed = text ? (JSON.parse(text) as unknown) : undefined;
  if (!response.ok) {
    const error = (parsed as { error?: { code?: string; message?: string } } | undefined)?.error;
    throw new ApiError(
      response.status,
      error?.code ?? "http_error",
      error?.message ?? `${method} ${path} answered HTTP ${response.status}.`,
      parsed,
    );
  }
  return parsed as T;
}

const enc = encodeURIComponent;

export const api = {
  session: () => call<{ signedIn: boolean; readsNeedSession: boolean }>("GET", "/auth/session"),
  login: (token: string) => call<void>("POST", "/auth/login", { token }),
  logout: () => call<void>("POST", "/auth/logout"),
  listRuns: (status?: RunStatus) =>
    call<{ runs: RunSummary[] }>("GET", status ? `/runs?status=${enc(status)}&limit=500` : "/runs?limit=500"),
  getRun: (id: string) => call<RunDetail>("GET", `/runs/${enc(id)}`),
  createRun: (input: CreateRun) => call<{ runId: string }>("POST", "/runs", input),
  answer: (id: string, approvalId: string, answer: ApprovalAnswer) =>
    call<{ approvalId: string; decision: string; by: string; ruleLearned?: string }>(
      "POST",
      `/runs/${enc(id)}/approvals/${enc(approvalId)}`,
      { by: "dashboard", ...answer },
    ),
  intervene: (id: string, body: Intervention) =>
    call<{ interventionId: string }>("POST", `/runs/${enc(id)}/interventions`, { by: "dashboard", ...body }),
  pause: (id: string) => call<unknown>("POST", `/runs/${enc(id)}/pause`, { by: "dashboard" }),
  resume: (id: string) => call<unknown>("POST", `/runs/${enc(id)}/resume`, { by: "dashboard" }),
  cancel: (id: string) => call<unknown>("POST", `/runs/${enc(id)}/cancel`, { by: "dashboard" }),
  diff: (id: string) => call<Diff>("GET", `/runs/${enc(id)}/diff`),
  checkpointDiff: (id: string, seq: number) =>
    call<CheckpointDiff>("GET", `/runs/${enc(id)}/checkpoints/${seq}/diff`),
  rewind: (id: string, to: number) => call<RewindResult>("POST", `/runs/${enc(id)}/rewind`, { to }),
  fork: (id: string, at: number, guidance?: string) =>
    call<ForkResult>("POST", `/runs/${enc(id)}/fork`, { at, guidance: guidance || undefined }),
  lessons: (id: string) => call<Lessons>("GET", `/runs/${enc(id)}/lessons`),
  decideLesson: (id: string, lessonId: string, body: LessonDecision) =>
    call<LessonDecisionResult>("POST", `/runs/${enc(id)}/lessons/${enc(lessonId)}`, body),
};
