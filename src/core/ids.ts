/** Generates ids. Injected so tests are deterministic. */
export type IdGenerator = (prefix: string) => string;

const alphabet = "0123456789abcdefghijklmnopqrstuvwxyz";

/**
 * `node:crypto`'s randomBytes, loaded when first asked for: loading node:crypto costs ~5 ms of a start,
 * and `entourage runs` makes no id (docs/architecture.md, "Start-up").
 */
export function randomBytes(size: number): Buffer {
  return process.getBuiltinModule("node:crypto").randomBytes(size);
}

// Random bytes drawn in blocks: one randomBytes call per 512 ids instead of one per id.
let pool: Buffer | undefined;
let poolOffset = 0;
function randomChars(n: number): string {
  if (pool === undefined || poolOffset + n > pool.length) {
    pool = randomBytes(4096);
    poolOffset = 0;
  }
  let out = "";
  for (let i = 0; i < n; i++) out += alphabet[pool[poolOffset + i]! % 36];
  poolOffset += n;
  return out;
}

/**
 * Time-ordered, url-safe ids: `run_` + base36 millisecond time + 8 random chars. Sorting ids sorts by
 * creation time, which keeps `runs` listings and file names in a sensible order.
 */
export const newId: IdGenerator = (prefix) => {
  const time = Date.now().toString(36).padStart(9, "0");
  return `${prefix}_${time}${randomChars(8)}`;
};

/** A counter-based generator for tests: `run_1`, `run_2`, … per prefix. */
export function sequentialIds(): IdGenerator {
  const counters = new Map<string, number>();
  return (prefix) => {
    const n = (counters.get(prefix) ?? 0) + 1;
    counters.set(prefix, n);
    return `${prefix}_${n}`;
  };
}

/** Clock injected into the engine so tests can control time. */
export type Clock = () => number;
export const systemClock: Clock = () => Date.now();
