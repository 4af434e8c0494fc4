export {
  type ApplyOptions,
  type ApplyOutcome,
  type ApplyPlan,
  abortApply,
  applyPlan,
} from "./apply.ts";
export type { Progress } from "./apply-steps.ts";
export type { ChangeStatus, ChangeSummary, FileChange, RawChange } from "./changes.ts";
export {
  type ConfinedPath,
  confine,
  isWithin,
  type MappedPath,
  mapAbsolutePath,
  type PathRoot,
} from "./confine.ts";
export { findRepoRoot, type SkippedPath } from "./copy-repo.ts";
export { DEFAULT_DEPENDENCY_DIRS, findDependencyDirs } from "./dependency-dirs.ts";
export {
  BINARY_SNIFF_BYTES,
  detectEol,
  isBinary,
  MAX_READ_BYTES,
  type ReadTextOptions,
  splitLines,
  type TextSlice,
  type WorkspaceStat,
  type WriteResult,
} from "./files.ts";
export type { MergeConflict } from "./merge.ts";
export {
  describeProject,
  detectLanguages,
  detectTestCommand,
  type TestCommand,
} from "./test-command.ts";
export {
  type ApplyToOptions,
  type CreateWorkspaceOptions,
  type DiffRange,
  type ListOptions,
  Workspace,
  type WorkspaceMeta,
} from "./workspace.ts";
export type {
  CloneOptions,
  MergeOptions,
  MergeResult,
  OpenWorkspaceOptions,
  Snapshot,
} from "./workspace-options.ts";
