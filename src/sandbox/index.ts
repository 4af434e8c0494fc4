export * from "./sandbox.ts";
export * from "./toolchain.ts";
