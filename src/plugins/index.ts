export * from "./api.ts";
export * from "./loader.ts";
