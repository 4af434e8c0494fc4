export * from "./agent.ts";
export * from "./builtin.ts";
export * from "./general.ts";
