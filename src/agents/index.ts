export * from "./agent.ts";
export * from "./builtin.ts";
export * from "./general.ts";
export * from "./loader.ts";
export * from "./project-context.ts";
export * from "./roster.ts";
