import { EventEmitter } from "node:events";
import { type Readable, Writable } from "node:stream";
import { StringDecoder } from "node:string_decoder";
import type { OutputChunk } from "../../sandbox.ts";

/** The part of dockerode's modem that splits a multiplexed stream (`docker.modem.demuxStream`). */
export interface StreamDemuxer {
  demuxStream(stream: Readable, stdout: NodeJS.WritableStream, stderr: NodeJS.WritableStream): void;
}

/**
 * Splits Docker's multiplexed attach stream (non-TTY exec/attach) into stdout and stderr text as it
 * arrives, with dockerode's own demuxer (it reassembles frames split across chunks, headers included).
 * Each stream gets its own UTF-8 decoder, since a character may be cut between two frames. Returns `end`,
 * to call once the stream has ended: it flushes a character cut at the very end.
 *
 * dockerode's demuxer recurses once per frame, so one chunk of more than ~3,000 frames would overflow the
 * stack and crash the process. The daemon coalesces output under back-pressure (at most ~280 frames in a
 * 64 KiB read, measured with one-byte writes and a stalled reader), but a command's output is not ours to
 * trust: chunks reach the demuxer in pieces of at most 4 KiB (≤ 512 frames), synchronously and in order.
 */
/** The largest piece handed to dockerode's demuxer at once (see above). */
const MAX_PIECE = 4096;

export function demuxOutput(
  modem: StreamDemuxer,
  stream: Readable,
  emit: (stream: OutputChunk["stream"], text: string) => void,
): () => void {
  const decoders = { stdout: new StringDecoder("utf8"), stderr: new StringDecoder("utf8") };
  // Synchronous sinks: each frame is emitted as dockerode writes it, so stdout and stderr keep their order.
  const sink = (name: OutputChunk["stream"]) =>
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        const text = decoders[name].write(chunk);
        if (text) emit(name, text);
        done();
      },
    });
  const pieces = new EventEmitter();
  stream.on("data", (chunk: Buffer) => {
    for (let at = 0; at < chunk.length; at += MAX_PIECE)
      pieces.emit("data", chunk.subarray(at, at + MAX_PIECE));
  });
  modem.demuxStream(pieces as unknown as Readable, sink("stdout"), sink("stderr"));
  return () => {
    for (const name of ["stdout", "stderr"] as const) {
      const text = decoders[name].end();
      if (text) emit(name, text);
    }
  };
}
