import { z } from "zod";
import { defineEvent } from "./envelope.ts";

export const checkpointCreated = defineEvent("checkpoint.created", () =>
  z.object({
    ref: z.string().describe("Commit id in the run's shadow git"),
    label: z.string(),
    filesChanged: z.array(z.string()),
    callId: z.string().optional(),
  }),
);

export const workspaceRestored = defineEvent("workspace.restored", () =>
  z.object({ ref: z.string(), toSeq: z.number().int().optional(), reason: z.string() }),
);

export const diffReady = defineEvent("diff.ready", () =>
  z.object({
    baseRef: z.string(),
    headRef: z.string(),
    files: z.array(z.object({ path: z.string(), status: z.enum(["added", "modified", "deleted"]) })),
    insertions: z.number().int(),
    deletions: z.number().int(),
  }),
);

export const diffApplied = defineEvent("diff.applied", () =>
  z.object({ target: z.string(), files: z.array(z.string()), headRef: z.string() }),
);

/** A parallel agent's copy of the workspace was merged back (three-way). Conflicts are kept, never dropped. */
export const workspaceMerged = defineEvent("workspace.merged", () =>
  z.object({
    fromAgentId: z.string(),
    base: z.string(),
    ref: z.string().optional().describe("Checkpoint after the merge, if anything changed"),
    merged: z.array(z.string()),
    conflicts: z.array(
      z.object({
        path: z.string(),
        reason: z.string(),
        ours: z.string().nullable(),
        theirs: z.string().nullable(),
        base: z.string().nullable(),
      }),
    ),
  }),
);

/**
 * A command took the run's disk (workspace + the sandbox's HOME) past its quota (`workspaceQuotaMb`): it
 * was stopped if still running, and the agent was told in the command's result.
 */
export const quotaExceeded = defineEvent("quota.exceeded", () =>
  z.object({
    callId: z.string().optional(),
    command: z.string().optional(),
    usedBytes: z.number().int().nonnegative(),
    limitBytes: z.number().int().positive(),
    stopped: z.boolean().describe("The command was killed for it (or a write hit the file size limit)"),
  }),
);
