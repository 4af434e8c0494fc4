export * from "./bridge.ts";
export * from "./names.ts";
export * from "./result.ts";
