export * from "./describe-event.ts";
export * from "./errors.ts";
export * from "./events/index.ts";
export * from "./format.ts";
export * from "./ids.ts";
export * from "./sse.ts";
export * from "./state.ts";
export * from "./timeline.ts";
