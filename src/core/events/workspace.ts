import { z } from "zod";
import { defineEvent } from "./envelope.ts";

export const checkpointCreated = defineEvent(
  "checkpoint.created",
  z.object({
    ref: z.string().describe("Commit id in the run's shadow git"),
    label: z.string(),
    filesChanged: z.array(z.string()),
    callId: z.string().optional(),
  }),
);

export const workspaceRestored = defineEvent(
  "workspace.restored",
  z.object({ ref: z.string(), toSeq: z.number().int().optional(), reason: z.string() }),
);

export const diffReady = defineEvent(
  "diff.ready",
  z.object({
    baseRef: z.string(),
    headRef: z.string(),
    files: z.array(z.object({ path: z.string(), status: z.enum(["added", "modified", "deleted"]) })),
    insertions: z.number().int(),
    deletions: z.number().int(),
  }),
);

export const diffApplied = defineEvent(
  "diff.applied",
  z.object({ target: z.string(), files: z.array(z.string()), headRef: z.string() }),
);
