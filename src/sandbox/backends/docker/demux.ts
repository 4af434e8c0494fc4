import type { Readable } from "node:stream";
import { StringDecoder } from "node:string_decoder";
import type { OutputChunk } from "../../sandbox.ts";

/** The part of dockerode's modem that splits a multiplexed stream (`docker.modem.demuxStream`). */
export interface StreamDemuxer {
  demuxStream(stream: Readable, stdout: NodeJS.WritableStream, stderr: NodeJS.WritableStream): void;
}

/**
 * Splits Docker's multiplexed attach stream (non-TTY exec/attach) into stdout and stderr text as it
 * arrives. Returns `end`, to call once the stream has ended: it flushes a character cut at the very end.
 */
export function demuxOutput(
  _modem: StreamDemuxer,
  stream: Readable,
  emit: (stream: OutputChunk["stream"], text: string) => void,
): () => void {
  const demux = new DockerStreamDemuxer(emit);
  stream.on("data", (chunk: Buffer) => demux.push(chunk));
  return () => demux.end();
}

/**
 * Each frame is an 8-byte header — byte 0 the stream (0 stdin, 1 stdout, 2 stderr), bytes 4–7 the payload
 * length, big-endian — followed by the payload. Frames may arrive split across or packed into chunks, and
 * a UTF-8 character may be cut between frames: each stream has its own decoder.
 */
class DockerStreamDemuxer {
  readonly #emit: (stream: OutputChunk["stream"], text: string) => void;
  readonly #decoders = { stdout: new StringDecoder("utf8"), stderr: new StringDecoder("utf8") };
  #pending: Buffer = Buffer.alloc(0);

  constructor(emit: (stream: OutputChunk["stream"], text: string) => void) {
    this.#emit = emit;
  }

  push(chunk: Buffer): void {
    let buffer = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    while (buffer.length >= 8) {
      const size = buffer.readUInt32BE(4);
      if (buffer.length < 8 + size) break;
      const type = buffer[0];
      const payload = buffer.subarray(8, 8 + size);
      buffer = buffer.subarray(8 + size);
      // stdin (0) is never echoed back without a TTY; anything unknown is treated as stdout.
      const stream = type === 2 ? "stderr" : "stdout";
      const text = this.#decoders[stream].write(payload);
      if (text) this.#emit(stream, text);
    }
    this.#pending = buffer.length === 0 ? Buffer.alloc(0) : Buffer.from(buffer);
  }

  /** Flushes partial characters at the end of the stream. */
  end(): void {
    for (const stream of ["stdout", "stderr"] as const) {
      const text = this.#decoders[stream].end();
      if (text) this.#emit(stream, text);
    }
    this.#pending = Buffer.alloc(0);
  }
}
