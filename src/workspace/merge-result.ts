import type { MergeConflict } from "./merge.ts";

/** What `Workspace.mergeFrom` and `mergeEach` take and return, and a snapshot as `Workspace.snapshot` reports it. */
export interface MergeOptions {
  /** A snapshot both workspaces have: usually the ref the other one was cloned at. */
  base: string;
  /** Their side. Default: the other workspace's latest snapshot (its HEAD). */
  theirs?: string;
  /** Label of the snapshot recording the merge. Default: "merge from <other dir>". */
  label?: string;
}

export interface MergeResult {
  /** Paths this workspace took from the other one or merged line-wise, sorted. */
  merged: string[];
  /** Paths both changed incompatibly; this workspace kept its own version of each. */
  conflicts: MergeConflict[];
  /** The snapshot recording the merge (with both histories as parents); null when nothing was merged. */
  snapshot: Snapshot | null;
}

export interface Snapshot {
  /** Commit id in the shadow git. */
  ref: string;
  label: string;
  filesChanged: string[];
}
