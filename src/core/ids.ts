import { randomBytes } from "node:crypto";

/** Generates ids. Injected so tests are deterministic. */
export type IdGenerator = (prefix: string) => string;

const alphabet = "0123456789abcdefghijklmnopqrstuvwxyz";

/**
 * Time-ordered, url-safe ids: `run_` + base36 millisecond time + 8 random chars. Sorting ids sorts by
 * creation time, which keeps `runs` listings and file names in a sensible order.
 */
export const newId: IdGenerator = (prefix) => {
  const time = Date.now().toString(36).padStart(9, "0");
  const bytes = randomBytes(8);
  let rand = "";
  for (const b of bytes) rand += alphabet[b % 36];
  return `${prefix}_${time}${rand}`;
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
