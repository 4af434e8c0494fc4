import type { Clock } from "../core/index.ts";
import type { MergeConflict } from "./merge.ts";

/** Options and results of `Workspace`'s methods (open, clone, merge, snapshot). */

export interface OpenWorkspaceOptions {
  gitDir?: string;
  clock?: Clock;
}

export interface CloneOptions {
  /** The clone's shadow git directory. Default: `shadow.git` beside `dir`. */
  gitDir?: string;
  /** Borrow this workspace's objects instead of copying them (see `CloneShadowOptions.shareObjects`). */
  shareObjects?: boolean;
}

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
