/**
 * The event codec (event-codec.ts: the event schemas, zod), loaded on first use: `entourage runs` only
 * lists the runs table, and loading zod and every schema would be most of its start (~70 ms of CPU).
 */
export type Codec = typeof import("./event-codec.ts");

let loaded: Codec | undefined;
let loading: Promise<Codec> | undefined;

/** The codec once it has loaded; undefined before. */
export function loadedCodec(): Codec | undefined {
  return loaded;
}

export function loadCodec(): Promise<Codec> {
  loading ??= import("./event-codec.ts").then((codec) => (loaded = codec));
  return loading;
}
