export * from "./agent.ts";
export * from "./general.ts";
