export * from "./arguments.ts";
export * from "./json-schema.ts";
export * from "./run-tool.ts";
export * from "./tool.ts";
