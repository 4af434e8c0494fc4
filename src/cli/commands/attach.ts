import {
  AbortedError,
  type EntourageEvent,
  errorMessage,
  type RunState,
  safeParseEvent,
  UserError,
} from "../../core/index.ts";
import type { ApprovalDecision } from "../../orchestrator/index.ts";
import { readClientToken } from "../../server/token.ts";
import { home } from "../compose.ts";
import { ApiClient, ApiError } from "../remote/api-client.ts";
import { findServers } from "../remote/server-discovery.ts";
import { EXIT, reportError } from "../terminal/exit.ts";
import { exitCodeOf } from "../terminal/live.ts";
import { TerminalRenderer } from "../terminal/render.ts";
import { STEER_KEYS, SteerConsole, type Steering } from "../terminal/steer-console.ts";
import { colorEnabled, makeStyle } from "../terminal/style.ts";

const DEFAULT_URL = "http://127.0.0.1:4317";

interface RunDetail {
  run: RunState;
  live: boolean;
  interrupted?: boolean;
  pendingApprovals: { approvalId: string }[];
}

/**
 * The server to attach to: the one given, else a server on this machine that drives the run (a CLI run's
 * own server, or `entourage serve`), else one that knows the run, else the default port.
 */
async function findServer(runId: string, token: string | undefined): Promise<ApiClient> {
  let known: ApiClient | undefined;
  for (const info of findServers(home())) {
    const client = new ApiClient(info.url, token);
    const detail = await client.get<RunDetail>(`/runs/${runId}`).catch(() => undefined);
    if (detail?.live) return client;
    if (detail) known ??= client;
  }
  return known ?? new ApiClient(DEFAULT_URL, token);
}

/**
 * `entourage attach <run-id>`: the run's live view from a server's SSE stream, rendered like `run`, with
 * the same keys: typed lines steer the run, approvals are answered inline. Exits when the run ends (with
 * the run's exit code), or on Ctrl-C (130) leaving the run as it is.
 */
export async function attachCommand(runId: string, opts: { url?: string }): Promise<number> {
  const abort = new AbortController();
  const onSigint = () => abort.abort(new AbortedError("detached"));
  process.on("SIGINT", onSigint);
  process.on("SIGTERM", onSigint);
  let console: SteerConsole | undefined;
  try {
    const token = readClientToken(home());
    const client = opts.url ? new ApiClient(opts.url, token) : await findServer(runId, token);
    const snapshot = await client.get<RunDetail>(`/runs/${encodeURIComponent(runId)}`).catch((error) => {
      if (error instanceof ApiError && error.status === 404)
        throw new UserError("run_not_found", `The server at ${client.url} has no run ${runId}.`);
      throw error;
    });
    const style = makeStyle(colorEnabled(process.stdout));
    // Through the console once it reads the terminal, so an open question is redrawn below new lines.
    const out = (s: string) => (console ? console.write(s) : process.stdout.write(s));
    const renderer = new TerminalRenderer(out, style);
    const base = `/runs/${encodeURIComponent(runId)}`;
    const say = (text: string) => out(`${text}\n`);
    const steering: Steering = {
      intervene: async (message, interrupt, redirect) => {
        await client.post(`${base}/interventions`, { message, interrupt, redirect });
      },
      pause: async () => {
        await client.post(`${base}/pause`);
      },
      resume: async () => {
        await client.post(`${base}/resume`);
      },
      cancel: async () => {
        await client.post(`${base}/cancel`);
      },
    };
    console = new SteerConsole({
      input: process.stdin,
      output: process.stdout,
      style,
      steering,
      by: "attach",
      terminal: Boolean(process.stdin.isTTY),
    });
    say(
      style.dim(
        `attached to ${runId} at ${client.url}${snapshot.live ? "" : " (not driven by this server: watch only)"}`,
      ),
    );
    say(style.dim(`keys: ${STEER_KEYS}`));
    if (snapshot.interrupted)
      say(
        style.yellow(
          `interrupted: the process that drove ${runId} is gone, so nothing will happen here until it is resumed: entourage resume ${runId}`,
        ),
      );

    // Approvals already answered before we attached are history, not questions.
    const waiting = new Set(snapshot.pendingApprovals.map((p) => p.approvalId));
    const historyEnd = snapshot.run.lastSeq;
    const open = new Map<string, AbortController>();
    const ask = (event: Extract<EntourageEvent, { type: "approval.requested" }>) => {
      const { approvalId } = event.data;
      if (event.seq <= historyEnd && !waiting.has(approvalId)) return;
      const answered = new AbortController();
      open.set(approvalId, answered);
      console!
        .ask({ ...event.data, approvalId }, answered.signal)
        .then(async (decision: ApprovalDecision) => {
          await client.post(`${base}/approvals/${encodeURIComponent(approvalId)}`, {
            decision: decision.decision,
            reason: decision.reason,
            rule: decision.rule
              ? { tool: decision.rule.tool, match: decision.rule.match, action: "allow" }
              : undefined,
            by: "attach",
          });
        })
        .catch((error: unknown) => {
          if (error instanceof ApiError) say(style.yellow(`    ${error.message}`));
          else if (!answered.signal.aborted && !abort.signal.aborted)
            say(style.red(`    ${errorMessage(error)}`));
        });
    };

    let lastId: string | undefined;
    let finished: RunState["status"] | undefined;
    let failures = 0;
    while (!finished && !abort.signal.aborted) {
      try {
        for await (const message of client.stream(`${base}/stream`, lastId, abort.signal)) {
          failures = 0;
          lastId = message.id ?? lastId;
          // An event type this client does not know (a newer server) is skipped, not fatal.
          const parsed = safeParseEvent(JSON.parse(message.data));
          if (!parsed.success) continue;
          const event = parsed.data;
          renderer.render(event);
          if (event.type === "approval.requested") ask(event);
          else if (event.type === "approval.resolved") open.get(event.data.approvalId)?.abort();
          else if (event.type === "run.finished") {
            finished = event.data.status;
            break;
          }
        }
        if (!finished && !abort.signal.aborted) throw new Error("the server ended the stream");
      } catch (error) {
        if (abort.signal.aborted) break;
        if (++failures > 5) throw error;
        say(style.yellow(`  stream interrupted (${errorMessage(error)}); reconnecting…`));
        await new Promise((r) => setTimeout(r, 200 * 2 ** failures));
      }
    }
    renderer.end();
    if (!finished) return EXIT.sigint;
    return exitCodeOf({ status: finished } as RunState);
  } catch (error) {
    if (abort.signal.aborted) return EXIT.sigint;
    return reportError(error);
  } finally {
    console?.close();
    process.off("SIGINT", onSigint);
    process.off("SIGTERM", onSigint);
  }
}
