import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { describe, it } from "node:test";
import Docker from "dockerode";
import { demuxOutput } from "./demux.ts";

/** dockerode's own modem (constructing it connects to nothing). */
const modem = new Docker({ socketPath: "/nonexistent/docker.sock" }).modem;

const frame = (type: number, payload: Buffer | string) => {
  const body = typeof payload === "string" ? Buffer.from(payload) : payload;
  const header = Buffer.alloc(8);
  header[0] = type;
  header.writeUInt32BE(body.length, 4);
  return Buffer.concat([header, body]);
};

/** Feeds `chunks` through the demuxer as a socket would deliver them; what each stream got, in order. */
function demux(chunks: Buffer[]): [string, string][] {
  const seen: [string, string][] = [];
  const socket = new PassThrough();
  const end = demuxOutput(modem, socket, (stream, text) => seen.push([stream, text]));
  for (const chunk of chunks) socket.write(chunk);
  end();
  return seen;
}
const joined = (seen: [string, string][], stream: string) =>
  seen
    .filter(([s]) => s === stream)
    .map(([, text]) => text)
    .join("");

describe("demuxOutput (Docker's multiplexed exec stream)", () => {
  it("splits packed frames in order, stdout and stderr interleaved", () => {
    const seen = demux([Buffer.concat([frame(1, "one\n"), frame(2, "two\n"), frame(1, "three\n")])]);
    assert.deepEqual(seen, [
      ["stdout", "one\n"],
      ["stderr", "two\n"],
      ["stdout", "three\n"],
    ]);
  });

  it("reassembles frames split anywhere, headers included, and UTF-8 cut between frames", () => {
    const euro = Buffer.from("€");
    const bytes = Buffer.concat([
      frame(1, Buffer.concat([Buffer.from("a"), euro.subarray(0, 2)])),
      frame(2, "err"),
      frame(1, Buffer.concat([euro.subarray(2), Buffer.from("b")])),
      frame(2, Buffer.from("ü").subarray(0, 1)),
      frame(2, Buffer.from("ü").subarray(1)),
    ]);
    // Every chunk size from one byte (every header cut at every offset) to more than a frame.
    for (let step = 1; step <= 12; step++) {
      const chunks: Buffer[] = [];
      for (let i = 0; i < bytes.length; i += step) chunks.push(bytes.subarray(i, i + step));
      const seen = demux(chunks);
      assert.equal(joined(seen, "stdout"), "a€b", `step ${step}`);
      assert.equal(joined(seen, "stderr"), "errü", `step ${step}`);
      assert.doesNotMatch(seen.map(([, t]) => t).join(""), /\uFFFD/);
    }
  });

  it("keeps the order of frames across chunks: stderr between two stdout frames stays between them", () => {
    const bytes = Buffer.concat([frame(1, "out1 "), frame(2, "err "), frame(1, "out2")]);
    const seen = demux([bytes.subarray(0, 11), bytes.subarray(11, 20), bytes.subarray(20)]);
    assert.deepEqual(
      seen.map(([stream, text]) => `${stream}:${text}`),
      ["stdout:out1 ", "stderr:err ", "stdout:out2"],
    );
  });

  it("survives a chunk of 50,000 tiny frames (dockerode's demuxer recurses per frame)", () => {
    const frames = Array.from({ length: 50_000 }, (_, i) => frame(i % 2 ? 2 : 1, i % 5 === 0 ? "" : "x"));
    const seen = demux([Buffer.concat(frames)]);
    assert.equal(joined(seen, "stdout").length + joined(seen, "stderr").length, 40_000);
    assert.equal(joined(seen, "stdout").length, 20_000);
  });

  it("passes empty frames through without emitting", () => {
    const seen = demux([Buffer.concat([frame(1, ""), frame(1, "x"), frame(2, "")])]);
    assert.deepEqual(seen, [["stdout", "x"]]);
  });

  it("a character cut at the very end of the stream is flushed (as U+FFFD), not lost", () => {
    const seen = demux([frame(1, Buffer.concat([Buffer.from("ok"), Buffer.from("€").subarray(0, 2)]))]);
    assert.equal(joined(seen, "stdout"), "ok\uFFFD");
  });

  it("the daemon's own error text (a Systemerr frame, stream 3) reaches the output", () => {
    const seen = demux([Buffer.concat([frame(1, "before\n"), frame(3, "exec failed: no such file\n")])]);
    assert.match(joined(seen, "stdout"), /^before\n[\s\S]*exec failed: no such file\n$/);
  });
});
