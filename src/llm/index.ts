export * from "./config.ts";
export * from "./create-model.ts";
export * from "./model.ts";
export * from "./prices.ts";
export { AiSdkModel, type AiSdkModelOptions } from "./providers/ai-sdk-model.ts";
export * from "./retry.ts";
export * from "./scripted.ts";
