import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DockerStreamDemuxer } from "./demux.ts";

const frame = (type: number, payload: Buffer | string) => {
  const body = typeof payload === "string" ? Buffer.from(payload) : payload;
  const header = Buffer.alloc(8);
  header[0] = type;
  header.writeUInt32BE(body.length, 4);
  return Buffer.concat([header, body]);
};

describe("DockerStreamDemuxer", () => {
  it("splits packed frames in order", () => {
    const seen: [string, string][] = [];
    const demux = new DockerStreamDemuxer((stream, text) => seen.push([stream, text]));
    demux.push(Buffer.concat([frame(1, "one\n"), frame(2, "two\n"), frame(1, "three\n")]));
    demux.end();
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
      frame(1, Buffer.concat([euro.subarray(2), Buffer.from("b")])),
      frame(2, "err"),
    ]);
    for (let step = 1; step <= 5; step++) {
      let out = "";
      let err = "";
      const demux = new DockerStreamDemuxer((stream, text) => {
        if (stream === "stdout") out += text;
        else err += text;
      });
      for (let i = 0; i < bytes.length; i += step) demux.push(bytes.subarray(i, i + step));
      demux.end();
      assert.equal(out, "a€b", `step ${step}`);
      assert.equal(err, "err");
      assert.doesNotMatch(out, /\uFFFD/);
    }
  });

  it("passes empty frames through without emitting", () => {
    const seen: string[] = [];
    const demux = new DockerStreamDemuxer((_, text) => seen.push(text));
    demux.push(Buffer.concat([frame(1, ""), frame(1, "x")]));
    assert.deepEqual(seen, ["x"]);
  });
});
