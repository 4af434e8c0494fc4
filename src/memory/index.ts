export * from "./conflicts.ts";
export * from "./context.ts";
export * from "./corrections.ts";
export * from "./draft.ts";
export * from "./lessons.ts";
export * from "./memory-file.ts";
