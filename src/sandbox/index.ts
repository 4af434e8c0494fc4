export * from "./sandbox.ts";
export * from "./toolchain.ts";
export * from "./pending.ts";
