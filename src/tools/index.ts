export * from "./run-tool.ts";
export * from "./tool.ts";
