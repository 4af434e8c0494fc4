export * from "./config.ts";
export * from "./trust.ts";
