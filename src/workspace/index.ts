export type { ApplyOutcome, ApplyPlan } from "./apply.ts";
export type { ChangeStatus, ChangeSummary, FileChange } from "./changes.ts";
export {
  type ConfinedPath,
  confine,
  isWithin,
  type MappedPath,
  mapAbsolutePath,
  type PathRoot,
} from "./confine.ts";
export type { SkippedPath } from "./copy-repo.ts";
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
  type CloneOptions,
  type CreateWorkspaceOptions,
  type DiffRange,
  type ListOptions,
  type MergeOptions,
  type MergeResult,
  type OpenWorkspaceOptions,
  type Snapshot,
  Workspace,
  type WorkspaceMeta,
} from "./workspace.ts";
