import { expect } from "chai";
import { MarketDataError } from "../../../services/marketdata/domain/errors";
import { planResume } from "../../../services/marketdata/domain/plan-resume";
import { decodeResumeToken, encodeResumeToken } from "../../../services/marketdata/domain/resume-token";

describe("marketdata resume token", () => {
  it("round-trips the epoch and the last seq per symbol as an opaque URL-safe string", () => {
    const token = encodeResumeToken({ epoch: 1763800000000, seqBySymbol: new Map([["MSFT", 3], ["AAPL", 41], ["BRK.B", 0]]) });
    expect(token).to.match(/^[A-Za-z0-9_-]+$/);
    const position = decodeResumeToken(token);
    expect(position.epoch).to.equal(1763800000000);
    expect([...position.seqBySymbol].sort()).to.deep.equal([["AAPL", 41], ["BRK.B", 0], ["MSFT", 3]]);
  });

  it("rejects garbage, a truncated token and an edited token as INVALID_RESUME_TOKEN on resume_token", () => {
    const token = encodeResumeToken({ epoch: 5, seqBySymbol: new Map([["AAPL", 41]]) });
    const edited = Buffer.from(Buffer.from(token, "base64url").toString("utf8").replace("41", "42")).toString("base64url");
    for (const bad of ["not a token", token.slice(0, -3), edited, "x".repeat(40_000)]) {
      expect(() => decodeResumeToken(bad))
        .to.throw(MarketDataError)
        .that.satisfies((error: MarketDataError) => error.code === "INVALID_RESUME_TOKEN" && error.details.field === "resume_token");
    }
  });
});

describe("marketdata resume planning", () => {
  const latest: Record<string, number> = { AAPL: 50, MSFT: 10, SPY: 7 };
  const plan = (position: Parameters<typeof planResume>[0]["position"], symbols = ["AAPL", "MSFT", "SPY"]) =>
    planResume({ symbols, position, currentEpoch: 9, latestSeq: (symbol) => latest[symbol] ?? 0, maxReplayPerSymbol: 20 });

  it("snapshots every symbol of a fresh subscription", () => {
    expect(plan(undefined)).to.deep.equal([
      { kind: "SNAPSHOT", symbol: "AAPL" },
      { kind: "SNAPSHOT", symbol: "MSFT" },
      { kind: "SNAPSHOT", symbol: "SPY" },
    ]);
  });

  it("replays what was missed, skips what is current, and snapshots symbols the token does not know", () => {
    const position = { epoch: 9, seqBySymbol: new Map([["AAPL", 45], ["MSFT", 10]]) };
    expect(plan(position)).to.deep.equal([
      { kind: "REPLAY", symbol: "AAPL", fromSeq: 46, toSeq: 50 },
      { kind: "UP_TO_DATE", symbol: "MSFT", seq: 10 },
      { kind: "SNAPSHOT", symbol: "SPY" },
    ]);
  });

  it("sends a GAP when the epoch changed, when too much was missed, or when the token is ahead of the producer", () => {
    expect(plan({ epoch: 8, seqBySymbol: new Map([["AAPL", 45]]) }, ["AAPL"])).to.deep.equal([
      { kind: "GAP", symbol: "AAPL", lastSeenSeq: 45, reason: "EPOCH_CHANGED" },
    ]);
    expect(plan({ epoch: 9, seqBySymbol: new Map([["AAPL", 29]]) }, ["AAPL"])).to.deep.equal([
      { kind: "GAP", symbol: "AAPL", lastSeenSeq: 29, reason: "REPLAY_LIMIT" },
    ]);
    expect(plan({ epoch: 9, seqBySymbol: new Map([["AAPL", 30]]) }, ["AAPL"])[0]!.kind).to.equal("REPLAY");
    expect(plan({ epoch: 9, seqBySymbol: new Map([["SPY", 8]]) }, ["SPY"])).to.deep.equal([
      { kind: "GAP", symbol: "SPY", lastSeenSeq: 8, reason: "TOKEN_AHEAD" },
    ]);
  });
});
