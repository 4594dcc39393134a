import { create, fromBinary, fromJson, toBinary, toJson, type DescMessage } from "@bufbuild/protobuf";
import { expect } from "chai";
import { createFrameEncoder } from "../../../services/gateway/frame-json-encoder";
import { decodeToJson } from "../../../services/gateway/message-json";
import { loadServiceDescriptors } from "../../../services/gateway/service-descriptors";

// The SSE bridge writes stream frames with this encoder; a subscriber must read exactly the proto3 JSON the generic
// mapping writes, whatever the frame holds, and the shared payload JSON must never leak between different frames.
describe("stream frame JSON for fan-out", () => {
  const descriptors = loadServiceDescriptors();
  const output = (rpc: string): DescMessage => descriptors.methods.find((m) => m.grpcPath.endsWith(`/${rpc}`))!.output;
  const quoteFrame = output("StreamQuotes");
  const bytesOf = (desc: DescMessage, json: object) => toBinary(desc, fromJson(desc, json as never));

  const frames = [
    { streamId: "s-1", streamEpoch: "e1", resumeToken: "tok-1", update: { symbol: "AAPL", bid: "101.25", ask: "101.27", seq: "7", timestamp: "2026-01-02T03:04:05.123Z" } },
    { streamId: "s-2", streamEpoch: "e1", resumeToken: "tok-\"quoted\"\n2", update: { symbol: "AAPL", bid: "101.25", ask: "101.27", seq: "7", timestamp: "2026-01-02T03:04:05.123Z" } },
    { streamId: "s-2", streamEpoch: "e1", resumeToken: "tok-3", snapshot: { symbol: "BTC", last: "0.000001", seq: "1" } },
    { streamId: "s-3", resumeToken: "tok-4", heartbeat: { latestSeq: { AAPL: "7", BTC: "0" } } },
    { streamId: "s-4", update: {} },
    { streamId: "ünïcødé ✓" },
    {},
  ];

  for (const emitDefaults of [true, false]) {
    it(`writes byte-for-byte the generic proto3 JSON (emitDefaults ${emitDefaults})`, () => {
      const encode = createFrameEncoder(quoteFrame, { emitDefaults });
      for (const json of [...frames, ...frames]) {
        const bytes = bytesOf(quoteFrame, json);
        const expected = decodeToJson(quoteFrame, bytes, { strict: true, emitDefaults });
        const encoded = encode(Buffer.from(bytes));
        expect(encoded.text).to.equal(JSON.stringify(expected));
        expect(encoded.json).to.deep.equal(expected);
      }
    });
  }

  it("gives each subscriber its own stream id and resume token around the shared quote", () => {
    const encode = createFrameEncoder(quoteFrame, { emitDefaults: true });
    const quote = { symbol: "MSFT", bid: "410.5", seq: "3" };
    const a = JSON.parse(encode(Buffer.from(bytesOf(quoteFrame, { streamId: "a", resumeToken: "ta", update: quote }))).text);
    const b = JSON.parse(encode(Buffer.from(bytesOf(quoteFrame, { streamId: "b", resumeToken: "tb", update: quote }))).text);
    const c = JSON.parse(encode(Buffer.from(bytesOf(quoteFrame, { streamId: "b", resumeToken: "tc", update: { ...quote, seq: "4" } }))).text);
    expect([a.streamId, a.resumeToken, b.streamId, b.resumeToken]).to.deep.equal(["a", "ta", "b", "tb"]);
    expect(a.update).to.deep.equal(b.update);
    expect(c.update.seq).to.equal("4");
  });

  it("reads frames that repeat a field or set two oneof members as the protobuf parser does (last one wins)", () => {
    const encode = createFrameEncoder(quoteFrame, { emitDefaults: false });
    const first = bytesOf(quoteFrame, { streamId: "old", snapshot: { symbol: "A", seq: "1" } });
    const second = bytesOf(quoteFrame, { streamId: "new", update: { symbol: "A", seq: "2" } });
    const merged = Buffer.concat([first, second]);
    expect(JSON.parse(encode(merged).text)).to.deep.equal(toJson(quoteFrame, fromBinary(quoteFrame, merged)));
    expect(JSON.parse(encode(merged).text)).to.deep.equal({ streamId: "new", update: { symbol: "A", seq: "2" } });
  });

  it("encodes every server-stream response type of the contracts as the generic mapping does", () => {
    for (const method of descriptors.methods.filter((m) => m.kind === "server_streaming")) {
      const encode = createFrameEncoder(method.output, { emitDefaults: true });
      const empty = toBinary(method.output, create(method.output));
      expect(encode(Buffer.from(empty)).text, method.grpcPath).to.equal(JSON.stringify(decodeToJson(method.output, empty, { strict: true, emitDefaults: true })));
    }
  });
});
