export * from "./pending.ts";
export * from "./sandbox.ts";
export * from "./toolchain.ts";
