/**
 * The API's request and response shapes: one zod schema each, read by the validators and by the OpenAPI
 * document alike. Events are the engine's own `eventSchema` (the union in src/core/events), not a copy.
 */
import { z } from "zod";
import {
  APPROVAL_DECISIONS,
  APPROVAL_MODES,
  eventSchema,
  ORCHESTRATION_MODES,
  RULE_ACTIONS,
  type RunState,
  riskSchema,
  runStatusSchema,
  SANDBOX_BACKENDS,
  verificationStatusSchema,
} from "../core/index.ts";

/** Run, agent and approval ids: letters, digits, `_` and `-` (no dots, no slashes: nothing path-like). */
const idPattern = /^[A-Za-z0-9_-]{1,128}$/;
const id = (what: string) =>
  z.string().regex(idPattern, `must be a ${what} id (letters, digits, _ and -, at most 128)`);

export const apiEventSchema = eventSchema().meta({
  id: "Event",
  description: "One event of a run's log. `seq` is gap-free per run and is the SSE id of the per-run stream.",
});

export const errorSchema = z
  .object({
    error: z.object({
      code: z.string().describe("Stable machine-readable code, e.g. run_not_found, approval_answered"),
      message: z.string().describe("What happened, why, and what to do next"),
    }),
  })
  .meta({ id: "Error" });

export const runParams = z.object({ id: id("run") });
export const approvalParams = z.object({ id: id("run"), approvalId: id("approval") });

const ruleSchema = z
  .object({
    tool: z.string().min(1).max(200).describe("Tool name or glob, e.g. run_command or *"),
    match: z.string().max(2000).optional().describe('Glob over the main argument, e.g. "npm test*"'),
    risk: riskSchema.optional(),
    action: z.enum(RULE_ACTIONS),
  })
  .strict()
  .meta({ id: "ApprovalRule" });

export const createRunBody = z
  .object({
    task: z.string().trim().min(1).max(100_000).describe("What to do, in plain words"),
    repo: z.string().min(1).max(4096).describe("Path of the repository (a git work tree) on the server"),
    mode: z.enum(ORCHESTRATION_MODES).optional(),
    approval: z.enum(APPROVAL_MODES).optional(),
    sandbox: z.enum(SANDBOX_BACKENDS).optional(),
    image: z
      .string()
      .min(1)
      .max(300)
      .optional()
      .describe("Docker sandbox image: node, python, go, rust, base, or a local image name"),
    provider: z.enum(["openai", "anthropic", "google", "openai-compatible"]).optional(),
    model: z.string().min(1).max(200).optional(),
    baseUrl: z.url().max(2000).optional(),
    testCommand: z.string().min(1).max(2000).optional(),
    verify: z
      .boolean()
      .optional()
      .describe("false: do not run the test command at the end (the run is marked not verified)"),
    setupCommand: z
      .string()
      .min(1)
      .max(2000)
      .optional()
      .describe("Run once in the sandbox before the agents, e.g. npm ci"),
    setupNetwork: z.enum(["off", "on"]).optional().describe("Network for the setup command only"),
    maxSteps: z.number().int().positive().max(10_000).optional(),
    maxTokens: z.number().int().positive().optional(),
    maxCostUsd: z.number().positive().optional(),
    rules: z.array(ruleSchema).max(200).optional().describe("Approval rules added after the config's"),
    withoutRepoSettings: z
      .boolean()
      .optional()
      .describe(
        "Run without the repository's settings that need trust (plugins, MCP servers, sandbox, endpoint…) instead of being refused (403 untrusted_repository) when the repository is not trusted",
      ),
  })
  .strict()
  .meta({ id: "CreateRun" });
export type CreateRunInput = z.infer<typeof createRunBody>;

export const runCreatedResponse = z.object({ runId: z.string() });

export const listRunsQuery = z.object({
  status: runStatusSchema.optional(),
  limit: z.coerce.number().int().positive().max(1000).optional(),
});

const usage = z.object({
  inputTokens: z.number(),
  outputTokens: z.number(),
  cachedInputTokens: z.number().optional(),
  reasoningTokens: z.number().optional(),
});

export const driverSchema = z
  .object({
    holder: z.object({ pid: z.number().int(), host: z.string(), label: z.string() }),
    acquiredAt: z.number(),
    heartbeatAt: z.number().describe("Milliseconds since the epoch of the driver's last heartbeat"),
    ttlMs: z.number().describe("A driver silent for longer than this is gone; its run may be taken over"),
  })
  .meta({ id: "Driver" });

const interrupted = z
  .literal(true)
  .optional()
  .describe("Not finished nor paused, and the process that drove it is gone: resume it to go on");

export const runSummarySchema = z
  .object({
    runId: z.string(),
    task: z.string(),
    repo: z.string(),
    status: runStatusSchema,
    createdAt: z.number(),
    updatedAt: z.number(),
    events: z.number().int(),
    inputTokens: z.number(),
    outputTokens: z.number(),
    costUsd: z.number(),
    costKnown: z.boolean(),
    verification: verificationStatusSchema
      .optional()
      .describe("The orchestrator's own run of the test command on the change; absent when nothing changed"),
    live: z
      .boolean()
      .describe(
        "Steerable from this server: driven by its process, or by a live process elsewhere (a worker, an `entourage run`)",
      ),
    driver: driverSchema.optional().describe("The process whose lease drives the run (live or stale)"),
    interrupted,
  })
  .meta({ id: "RunSummary" });

/** The run state folded from the log (`foldRun` in src/core/state.ts). */
export const pendingApprovalSchema = z
  .object({
    approvalId: z.string(),
    agentId: z.string(),
    tool: z.string().describe("The tool, or `plan` for the plan checkpoint"),
    args: z.unknown(),
    risk: riskSchema,
    reason: z.string(),
    since: z.number().describe("Milliseconds since the epoch when the request started waiting"),
  })
  .meta({ id: "PendingApproval" });

export const runStateSchema = z
  .object({
    runId: z.string(),
    task: z.string(),
    repo: z.string(),
    workspace: z.string(),
    mode: z.string(),
    status: runStatusSchema,
    model: z.object({ provider: z.string(), model: z.string(), scripted: z.boolean().optional() }),
    sandbox: z.object({
      backend: z.string(),
      isolated: z.boolean(),
      warning: z.string().optional(),
      image: z.string().optional(),
    }),
    createdAt: z.number(),
    updatedAt: z.number(),
    finishedAt: z.number().optional(),
    summary: z.string().optional(),
    error: z.object({ code: z.string(), message: z.string() }).optional(),
    agents: z.array(
      z.object({
        agentId: z.string(),
        name: z.string(),
        parentAgentId: z.string().optional(),
        task: z.string(),
        model: z.string(),
        status: z.enum(["running", "finished"]),
        steps: z.number(),
        usage,
        costUsd: z.number(),
        report: z.unknown().optional(),
      }),
    ),
    activeAgentId: z.string().optional(),
    route: z.object({ route: z.enum(["answer", "change"]), reason: z.string() }).optional(),
    verification: z
      .object({
        status: verificationStatusSchema,
        reason: z.string(),
        command: z.string().optional(),
        exitCode: z.number().optional(),
      })
      .optional(),
    usage,
    costUsd: z.number(),
    costKnown: z.boolean(),
    steps: z.number(),
    toolCalls: z.number(),
    pendingToolCalls: z.array(
      z.object({
        callId: z.string(),
        name: z.string(),
        args: z.unknown(),
        agentId: z.string().optional(),
        seq: z.number(),
        started: z.boolean(),
      }),
    ),
    pendingApprovals: z
      .array(pendingApprovalSchema)
      .describe("Asked by the run's current driver and not answered yet, oldest first"),
    checkpoints: z.array(
      z.object({ seq: z.number(), ref: z.string(), label: z.string(), filesChanged: z.array(z.string()) }),
    ),
    lastSeq: z.number(),
  })
  .meta({ id: "RunState" });

// Compile-time guard: the folded state must stay assignable to the documented shape.
const _stateMatchesSchema = (s: RunState): z.input<typeof runStateSchema> => s;
void _stateMatchesSchema;

export const runDetailSchema = z
  .object({
    run: runStateSchema,
    live: z
      .boolean()
      .describe(
        "Steerable from this server (driven here, or by a live process elsewhere): the steering routes work only then",
      ),
    driver: driverSchema.optional().describe("The process that drives the run now, whichever it is"),
    interrupted,
    pendingApprovals: z.array(pendingApprovalSchema),
  })
  .meta({ id: "RunDetail" });

export const eventsQuery = z.object({
  from: z.coerce.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).optional(),
  limit: z.coerce.number().int().positive().max(5000).optional(),
});

export const eventsPageSchema = z
  .object({
    events: z.array(apiEventSchema),
    next: z.number().int().describe("The `from` of the next page (last seq + 1)"),
    more: z.boolean().describe("True when the page was full: ask again from `next`"),
  })
  .meta({ id: "EventsPage" });

export const streamQuery = z.object({
  from: z.coerce
    .number()
    .int()
    .nonnegative()
    .max(Number.MAX_SAFE_INTEGER)
    .optional()
    .describe("First seq to send when there is no Last-Event-ID header (default 0)"),
});

/** Who acts, as the log records it: a short client name (dashboard, a bot); absent: api. */
const clientName = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,31}$/, "must be a short lowercase client name, e.g. dashboard")
  .optional();

export const approvalAnswerBody = z
  .object({
    decision: z.enum(APPROVAL_DECISIONS),
    reason: z.string().max(10_000).optional().describe("For a denial: told to the model"),
    editedArgs: z.unknown().optional().describe("For an edit: the arguments (or the plan) to use instead"),
    rule: z
      .union([z.literal(true), ruleSchema.omit({ action: true }).extend({ action: z.literal("allow") })])
      .optional()
      .describe(
        '"Always allow": `true` saves the pattern the terminal would show (tool + main argument); or give the rule',
      ),
    by: clientName.describe("Who answers, as the log records it (default: api)"),
  })
  .strict()
  .meta({ id: "ApprovalAnswer" });

export const approvalAnsweredSchema = z.object({
  approvalId: z.string(),
  decision: z.enum(APPROVAL_DECISIONS),
  by: z.string(),
  ruleLearned: z.string().optional(),
});

export const interventionBody = z
  .object({
    message: z.string().trim().min(1).max(20_000),
    targetAgentId: id("agent").optional().describe("One agent; default: the next agent to take a step"),
    interrupt: z
      .boolean()
      .optional()
      .describe("Abort the agent's in-flight model call and deliver at once (default: next step)"),
    redirect: z
      .object({
        to: z
          .string()
          .min(1)
          .max(100)
          .optional()
          .describe("Agent name to hand the task to; absent: restart the phase"),
      })
      .strict()
      .optional()
      .describe("Stop the agent and start its phase over with this message (implies interrupt)"),
    by: clientName.describe("Who sends it, as the log records it (default: api)"),
  })
  .strict()
  .meta({ id: "Intervention" });

export const reasonBody = z
  .object({
    reason: z.string().max(2000).optional(),
    by: clientName.describe("Who acts, as the log records it (default: api)"),
  })
  .strict();

/** The model a resumed run goes on with; each field defaults to the run's own (recorded as model.changed). */
export const resumeBody = z
  .object({
    provider: z.enum(["openai", "anthropic", "google", "openai-compatible"]).optional(),
    model: z.string().min(1).max(200).optional(),
    baseUrl: z.url().max(2000).optional(),
    by: clientName.describe("Who resumes a paused run, as the log records it (default: api)"),
  })
  .strict()
  .meta({ id: "ResumeRun" });
export type ResumeInput = z.infer<typeof resumeBody>;

export const runStatusResponse = z.object({ runId: z.string(), status: z.string() });

export const rewindBody = z
  .object({ to: z.number().int().nonnegative().describe("The event (seq) to go back to") })
  .strict();

export const rewindResponse = z.object({
  runId: z.string(),
  ref: z.string().describe("The checkpoint the workspace is at now"),
  label: z.string(),
});

export const forkBody = z
  .object({
    at: z.number().int().nonnegative().describe("The event (seq) to branch from"),
    guidance: z.string().trim().max(20_000).optional().describe("A message for the agent that continues"),
  })
  .strict();

export const forkResponse = z.object({
  runId: z.string().describe("The new run"),
  forkedFrom: z.object({ runId: z.string(), seq: z.number() }),
  started: z.boolean().describe("True when this server drives the new run; else: entourage resume <runId>"),
});

export const diffResponse = z
  .object({
    diff: z.string().describe("Unified diff, baseline → the run's latest checkpoint"),
    files: z.array(z.object({ path: z.string(), status: z.enum(["added", "modified", "deleted"]) })),
    insertions: z.number(),
    deletions: z.number(),
  })
  .meta({ id: "Diff" });

export const applyBody = z
  .object({
    acceptRisky: z
      .boolean()
      .optional()
      .describe(
        "Also write the changes that need review (.entourage/, AGENTS.md, CI files, git hooks, package scripts, new executables, symlinks leaving the repository) instead of being refused (409 apply_needs_review, whose message lists them)",
      ),
  })
  .strict()
  .meta({ id: "ApplyRun" });

export const applyResponse = z.object({
  runId: z.string(),
  target: z.string(),
  files: z.array(z.string()),
  review: z
    .array(z.object({ path: z.string(), reason: z.string() }))
    .describe("The applied paths that needed review, and why"),
  resumed: z
    .object({ startedAt: z.string() })
    .optional()
    .describe("Set when this finished an interrupted apply of the run"),
});

export const healthResponse = z.object({ ok: z.literal(true), version: z.string() });
