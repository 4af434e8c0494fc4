export type Workspace = unknown;
