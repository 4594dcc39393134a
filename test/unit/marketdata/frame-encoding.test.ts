import { expect } from "chai";
import Decimal from "decimal.js";
import { StreamQuotesResponse } from "../../../generated/tradeplane/marketdata/v1/market_data_service";
import type { SequencedQuote } from "../../../services/marketdata/domain/quote";
import { decodeResumeToken, encodeResumeToken, encodeSingleSymbolToken } from "../../../services/marketdata/domain/resume-token";
import { UpdateFrameEncoder, quoteToProto } from "../../../services/marketdata/grpc/mappers";

const quote = (seq: number): SequencedQuote => ({
  symbol: "AAPL",
  bid: new Decimal("189.99"),
  ask: new Decimal("190.01"),
  last: new Decimal("190.00"),
  bidSize: new Decimal("300"),
  askSize: new Decimal("200"),
  lastSize: new Decimal("5"),
  volume: new Decimal("1250000"),
  exchangeTimeMs: Date.parse("2026-11-20T15:30:00Z") + seq,
  seq,
  epoch: 7,
  publishedAtMs: Date.parse("2026-11-20T15:30:00.010Z") + seq,
});

describe("StreamQuotes frame encoding (the shared fast path)", () => {
  it("writes UPDATE frames that decode to exactly what a full protobuf encode of the same frame gives", () => {
    const encoder = new UpdateFrameEncoder("stream-42");
    for (const seq of [1, 2, 300]) {
      const token = encodeResumeToken({ epoch: 7, seqBySymbol: new Map([["AAPL", seq]]) });
      const fast = StreamQuotesResponse.decode(encoder.encode(quote(seq), "AAPL00000000000000000001", 7, token));
      const full = StreamQuotesResponse.decode(
        StreamQuotesResponse.encode(
          StreamQuotesResponse.fromPartial({
            streamId: "stream-42",
            streamEpoch: "7",
            resumeToken: token,
            frame: { $case: "update", value: quoteToProto(quote(seq), "AAPL00000000000000000001") },
          }),
        ).finish(),
      );
      expect(fast).to.deep.equal(full);
    }
  });

  it("shares a one-symbol resume token that is the same token the general encoder writes, and still decodes", () => {
    for (const seq of [1, 2, 2, 99]) {
      const shared = encodeSingleSymbolToken(7, "MSFT", seq);
      expect(shared).to.equal(encodeResumeToken({ epoch: 7, seqBySymbol: new Map([["MSFT", seq]]) }));
      expect(decodeResumeToken(shared).seqBySymbol.get("MSFT")).to.equal(seq);
    }
    expect(encodeSingleSymbolToken(8, "MSFT", 99)).to.not.equal(encodeSingleSymbolToken(7, "MSFT", 99));
  });
});
