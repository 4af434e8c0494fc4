import type { OutputChunk } from "../../sandbox.ts";

/**
 * Collects a command's interleaved stdout/stderr under a byte cap.
 *
 * What is kept: the first half of the cap (the head: the command's start, the first error) and the last
 * half (the tail: a test runner's summary, the final error), joined by one line that says how many bytes
 * were dropped between them. A model reading the result needs both ends far more than the middle.
 *
 * What is streamed live (`onOutput`): every chunk until `limitBytes` bytes have been streamed, then one
 * notice chunk, then nothing. A runaway `yes` must not flood the event log or a terminal; the tail still
 * reaches the final result.
 */
export class OutputBuffer {
  readonly #limit: number;
  readonly #headLimit: number;
  readonly #tailLimit: number;
  readonly #onOutput: ((chunk: OutputChunk) => void) | undefined;
  #head = "";
  #headBytes = 0;
  #tail: Buffer[] = [];
  #tailBytes = 0;
  #totalBytes = 0;
  #streamedBytes = 0;
  #streamNoticeSent = false;

  constructor(limitBytes: number, onOutput?: (chunk: OutputChunk) => void) {
    this.#limit = Math.max(0, Math.floor(limitBytes));
    this.#headLimit = Math.ceil(this.#limit / 2);
    this.#tailLimit = this.#limit - this.#headLimit;
    this.#onOutput = onOutput;
  }

  /** Bytes received in total, kept or not. */
  get totalBytes(): number {
    return this.#totalBytes;
  }

  push(stream: OutputChunk["stream"], text: string): void {
    if (text.length === 0) return;
    const bytes = Buffer.from(text, "utf8");
    this.#totalBytes += bytes.length;
    this.#stream(stream, text, bytes.length);

    let rest = bytes;
    if (this.#headBytes < this.#headLimit) {
      const room = this.#headLimit - this.#headBytes;
      const take = rest.length <= room ? rest.length : utf8Boundary(rest, room);
      this.#head += rest.subarray(0, take).toString("utf8");
      this.#headBytes += take;
      rest = rest.subarray(take);
    }
    if (rest.length === 0 || this.#tailLimit === 0) return;
    this.#tail.push(rest);
    this.#tailBytes += rest.length;
    while (this.#tail.length > 1 && this.#tailBytes - this.#tail[0]!.length >= this.#tailLimit) {
      this.#tailBytes -= this.#tail.shift()!.length;
    }
  }

  /** The kept output, with a line naming the dropped byte count where the middle was cut. */
  result(): { output: string; truncated: boolean; droppedBytes: number } {
    let tail = Buffer.concat(this.#tail);
    if (tail.length > this.#tailLimit) {
      tail = tail.subarray(tail.length - this.#tailLimit);
      // Do not start the tail in the middle of a UTF-8 sequence.
      let skip = 0;
      while (skip < tail.length && (tail[skip]! & 0xc0) === 0x80) skip++;
      tail = tail.subarray(skip);
    }
    const dropped = this.#totalBytes - this.#headBytes - tail.length;
    if (dropped <= 0)
      return { output: this.#head + tail.toString("utf8"), truncated: false, droppedBytes: 0 };
    const separator = `${this.#head.endsWith("\n") || this.#head === "" ? "" : "\n"}[… ${dropped} bytes of output dropped (cap ${this.#limit} bytes: first and last ${this.#tailLimit} kept) …]\n`;
    return { output: this.#head + separator + tail.toString("utf8"), truncated: true, droppedBytes: dropped };
  }

  #stream(stream: OutputChunk["stream"], text: string, byteLength: number): void {
    if (!this.#onOutput) return;
    if (this.#streamedBytes + byteLength <= this.#limit) {
      this.#streamedBytes += byteLength;
      this.#onOutput({ stream, text });
      return;
    }
    if (this.#streamNoticeSent) return;
    this.#streamNoticeSent = true;
    const room = this.#limit - this.#streamedBytes;
    const bytes = Buffer.from(text, "utf8");
    const take = utf8Boundary(bytes, room);
    this.#streamedBytes = this.#limit;
    if (take > 0) this.#onOutput({ stream, text: bytes.subarray(0, take).toString("utf8") });
    this.#onOutput({
      stream: "stderr",
      text: `\n[output cap of ${this.#limit} bytes reached: live output stops here; the result keeps the last ${this.#tailLimit} bytes]\n`,
    });
  }
}

/** The largest length ≤ `max` that does not cut `bytes` inside a UTF-8 sequence. */
function utf8Boundary(bytes: Buffer, max: number): number {
  if (max >= bytes.length) return bytes.length;
  let end = Math.max(0, max);
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return end;
}
