export * from "./agent-loop.ts";
export * from "./approval.ts";
export * from "./conversation.ts";
export * from "./emitter.ts";
export * from "./loop-detector.ts";
export * from "./run-actions.ts";
export * from "./run-control.ts";
export * from "./run-engine.ts";
