import { z } from "zod";

/**
 * The input of a tool whose schema comes as JSON Schema (an MCP server's tool, a plugin tool without
 * zod): the schema the model sees, and a zod schema that validates the model's arguments against it.
 * When the JSON Schema uses something zod cannot convert, the arguments are only checked to be an object
 * and the tool (the MCP server) validates them itself.
 */
export function inputFromJsonSchema(schema: unknown): {
  input: z.ZodType;
  inputJsonSchema: Record<string, unknown>;
} {
  const json: Record<string, unknown> =
    typeof schema === "object" && schema !== null && !Array.isArray(schema)
      ? { ...(schema as Record<string, unknown>) }
      : {};
  delete json.$schema;
  // Providers need an object schema at the top level; MCP requires one too, but not every server complies.
  if (json.type !== "object") {
    json.type = "object";
  }
  json.properties ??= {};
  let input: z.ZodType;
  try {
    input = z.fromJSONSchema(json as Parameters<typeof z.fromJSONSchema>[0]);
  } catch {
    input = z.looseObject({});
  }
  return { input, inputJsonSchema: json };
}
