import { closeSync, fdatasync, fdatasyncSync, openSync } from "node:fs";

/**
 * Makes committed SQLite transactions durable by flushing the database's write-ahead log, off the event
 * loop. The connection runs with `synchronous = NORMAL`, so a COMMIT writes its WAL frames to the page
 * cache and returns without an fsync (a crash of the process loses nothing; a power cut could lose it);
 * `sync` then `fdatasync`s the `-wal` file in libuv's thread pool, which is what `synchronous = FULL`
 * would have done inside COMMIT, blocking every run of the process. One flush covers every commit
 * written before it (the WAL is one file, appended in commit order), so concurrent appends share it.
 * The WAL is never deleted while a connection is open (SQLite only removes it when the last one
 * closes), so the descriptor stays valid; a WAL restart rewrites the same file in place.
 */
export class WalSync {
  readonly #walPath: string;
  #fd: number | undefined;
  /** Commits written so far, and how many of them a finished flush covers. */
  #written = 0;
  #synced = 0;
  #inFlight: Promise<void> | undefined;
  /** Told when each flush began and when its completion reached the event loop (`performance.now()`). */
  readonly #onFlushed: ((began: number, ended: number) => void) | undefined;

  constructor(databasePath: string, onFlushed?: (began: number, ended: number) => void) {
    this.#walPath = `${databasePath}-wal`;
    this.#onFlushed = onFlushed;
  }

  /** Records that a transaction was committed (its frames are in the WAL, maybe not on disk yet). */
  committed(): void {
    this.#written++;
  }

  /** Resolves once every commit recorded before the call is on disk. */
  async sync(): Promise<void> {
    const target = this.#written;
    while (this.#synced < target) {
      if (this.#inFlight) {
        await this.#inFlight;
        continue;
      }
      const covers = this.#written;
      const began = performance.now();
      this.#inFlight = new Promise<void>((resolve, reject) => {
        fdatasync(this.#descriptor(), (error) => (error ? reject(error) : resolve()));
      }).then(
        () => {
          this.#onFlushed?.(began, performance.now());
          this.#synced = Math.max(this.#synced, covers);
          this.#inFlight = undefined;
        },
        (error: unknown) => {
          this.#inFlight = undefined;
          throw error;
        },
      );
      await this.#inFlight;
    }
  }

  /** The same, blocking: for the rare writes that are not appends (leases). */
  syncNow(): void {
    if (this.#synced === this.#written) return;
    const covers = this.#written;
    fdatasyncSync(this.#descriptor());
    this.#synced = Math.max(this.#synced, covers);
  }

  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }

  #descriptor(): number {
    // Opened at the first flush: the -wal file exists from the first commit on.
    this.#fd ??= openSync(this.#walPath, "r+");
    return this.#fd;
  }
}
