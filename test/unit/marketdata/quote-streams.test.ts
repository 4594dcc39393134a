import { expect } from "chai";
import Decimal from "decimal.js";
import { MarketDataError } from "../../../services/marketdata/domain/errors";
import type { SequencedQuote } from "../../../services/marketdata/domain/quote";
import { QuoteFanout } from "../../../services/marketdata/domain/quote-fanout";
import type { QuoteFrame } from "../../../services/marketdata/domain/quote-frame";
import { QuoteSequencer } from "../../../services/marketdata/domain/quote-sequencer";
import type { QuoteStreamDeps } from "../../../services/marketdata/domain/quote-streams";
import { closeQuoteStream, endAllQuoteStreams, openQuoteStream, updateSubscription } from "../../../services/marketdata/domain/quote-streams";
import type { QuoteSubscription } from "../../../services/marketdata/domain/quote-subscription";
import type { QuoteReplaySource } from "../../../services/marketdata/domain/replay-ring";
import { ReplayRing } from "../../../services/marketdata/domain/replay-ring";
import { decodeResumeToken } from "../../../services/marketdata/domain/resume-token";
import { StreamRegistry } from "../../../services/marketdata/domain/stream-registry";

const KNOWN = new Set(["AAPL", "MSFT", "SPY", "BTC", "ETH"]);
const EPOCH = 1_700_000_000_000;

/** A single-process market: a sequencer publishing into the replay ring and the fan-out. */
function market(options: { epoch?: number; ringCapacity?: number; bufferCapacity?: number; replay?: QuoteReplaySource; maxStreams?: number } = {}) {
  const epoch = options.epoch ?? EPOCH;
  let nowMs = 1_000;
  const ring = new ReplayRing({ capacityPerSymbol: options.ringCapacity ?? 100, retentionMs: 60_000, nowMs: () => nowMs });
  const fanout = new QuoteFanout(epoch, []);
  let sequencer = new QuoteSequencer(epoch);
  let streamCount = 0;
  const deps: QuoteStreamDeps = {
    registry: new StreamRegistry({ maxStreamsPerCaller: options.maxStreams ?? 3, maxSymbolsPerStream: 4 }),
    fanout,
    replay: options.replay ?? ring,
    isKnownSymbol: (symbol) => KNOWN.has(symbol),
    bufferCapacity: options.bufferCapacity ?? 64,
    maxReplayPerSymbol: 50,
    newStreamId: () => `stream-${++streamCount}`,
  };
  const build = (symbol: string, seq: number, quoteEpoch: number): SequencedQuote => {
    const price = new Decimal(100).plus(new Decimal(seq).dividedBy(100));
    return { symbol, seq, epoch: quoteEpoch, publishedAtMs: nowMs, exchangeTimeMs: nowMs, bid: price, ask: price.plus("0.02"), last: price, bidSize: new Decimal(100), askSize: new Decimal(100), lastSize: new Decimal(10), volume: new Decimal(10).times(seq) };
  };
  return {
    deps,
    fanout,
    ring,
    /** Publish the next quote of a symbol; returns its seq. */
    publish(symbol: string): number {
      nowMs += 10;
      const quote = build(symbol, sequencer.next(symbol), sequencer.epoch);
      ring.append(quote);
      fanout.deliver(quote);
      return quote.seq;
    },
    publishMany(symbol: string, count: number): void {
      for (let index = 0; index < count; index += 1) this.publish(symbol);
    },
    /** Deliver a quote with an arbitrary seq, as a lossy bus would. */
    deliverRaw(symbol: string, seq: number): void {
      nowMs += 10;
      const quote = build(symbol, seq, sequencer.epoch);
      ring.append(quote);
      fanout.deliver(quote);
    },
    restartEpoch(newEpoch: number): void {
      sequencer = new QuoteSequencer(newEpoch);
    },
    advanceMs(ms: number): void {
      nowMs += ms;
    },
  };
}

function describeFrame(frame: QuoteFrame): string {
  switch (frame.kind) {
    case "SNAPSHOT":
      return `SNAPSHOT ${frame.symbol}@${frame.seq}`;
    case "UPDATE":
      return `UPDATE ${frame.symbol}@${frame.seq}`;
    case "GAP":
      return `GAP ${frame.symbol} from ${frame.fromSeq} ${frame.reason}`;
    case "LAGGED":
      return `LAGGED ${frame.droppedCount}`;
    case "HEARTBEAT":
      return `HEARTBEAT ${[...frame.latestSeqBySymbol].map(([symbol, seq]) => `${symbol}@${seq}`).join(",")}`;
    case "END":
      return `END ${frame.reason}`;
  }
}

function pullAll(subscription: QuoteSubscription): QuoteFrame[] {
  const frames: QuoteFrame[] = [];
  for (let frame = subscription.pull(); frame; frame = subscription.pull()) frames.push(frame);
  return frames;
}

const pullDescribed = (subscription: QuoteSubscription) => pullAll(subscription).map(describeFrame);

function errorCodeOf(promiseOrFn: () => unknown): Promise<string> {
  return Promise.resolve()
    .then(promiseOrFn)
    .then(
      () => "no error",
      (error) => (error instanceof MarketDataError ? error.code : String(error)),
    );
}

describe("marketdata quote streams", () => {
  it("sends a SNAPSHOT first for every quoted symbol, then UPDATEs with contiguous seqs (a never-quoted symbol starts at UPDATE 1)", async () => {
    const m = market();
    m.publishMany("AAPL", 3);
    const stream = await openQuoteStream(m.deps, { callerId: "alice", symbols: ["aapl", "MSFT"] });
    m.publish("AAPL");
    m.publish("MSFT");
    m.publish("SPY");
    expect(pullDescribed(stream)).to.deep.equal(["SNAPSHOT AAPL@3", "UPDATE AAPL@4", "UPDATE MSFT@1"]);
    expect(stream.streamId).to.equal("stream-1");
  });

  it("refuses unknown symbols, listing every one, and malformed or missing symbols", async () => {
    const m = market();
    const error = await openQuoteStream(m.deps, { callerId: "alice", symbols: ["AAPL", "NOPE", "ZZZ"] }).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(MarketDataError);
    expect((error as MarketDataError).code).to.equal("UNKNOWN_SYMBOL");
    expect((error as MarketDataError).details.symbols).to.deep.equal(["NOPE", "ZZZ"]);
    expect(await errorCodeOf(() => openQuoteStream(m.deps, { callerId: "alice", symbols: ["A B"] }))).to.equal("INVALID_SYMBOL");
    expect(await errorCodeOf(() => openQuoteStream(m.deps, { callerId: "alice", symbols: [] }))).to.equal("INVALID_ARGUMENT");
    expect(m.deps.registry.openStreamCount).to.equal(0);
  });

  it("limits open streams per caller and frees the slot when a stream closes", async () => {
    const m = market({ maxStreams: 2 });
    const first = await openQuoteStream(m.deps, { callerId: "alice", symbols: ["AAPL"] });
    await openQuoteStream(m.deps, { callerId: "alice", symbols: ["AAPL"] });
    expect(await errorCodeOf(() => openQuoteStream(m.deps, { callerId: "alice", symbols: ["AAPL"] }))).to.equal("TOO_MANY_STREAMS");
    expect(await errorCodeOf(() => openQuoteStream(m.deps, { callerId: "bob", symbols: ["AAPL"] }))).to.equal("no error");
    closeQuoteStream(m.deps, first);
    expect(await errorCodeOf(() => openQuoteStream(m.deps, { callerId: "alice", symbols: ["AAPL"] }))).to.equal("no error");
    expect(m.fanout.subscriberCount("AAPL")).to.equal(3);
  });

  it("limits the symbols of one stream, on open and on update", async () => {
    const m = market();
    expect(await errorCodeOf(() => openQuoteStream(m.deps, { callerId: "alice", symbols: ["AAPL", "MSFT", "SPY", "BTC", "ETH"] }))).to.equal(
      "TOO_MANY_SYMBOLS",
    );
    const stream = await openQuoteStream(m.deps, { callerId: "alice", symbols: ["AAPL", "MSFT", "SPY", "BTC"] });
    expect(await errorCodeOf(() => updateSubscription(m.deps, { callerId: "alice", streamId: stream.streamId, add: ["ETH"], remove: [] }))).to.equal(
      "TOO_MANY_SYMBOLS",
    );
    // Swapping one symbol for another at the limit is fine because removals apply first.
    expect(updateSubscription(m.deps, { callerId: "alice", streamId: stream.streamId, add: ["ETH"], remove: ["BTC"] })).to.deep.equal([
      "AAPL",
      "MSFT",
      "SPY",
      "ETH",
    ]);
  });

  it("adds and removes symbols of a running stream without reconnecting", async () => {
    const m = market();
    m.publishMany("SPY", 2);
    const stream = await openQuoteStream(m.deps, { callerId: "alice", symbols: ["AAPL"] });
    pullAll(stream);
    updateSubscription(m.deps, { callerId: "alice", streamId: stream.streamId, add: ["spy"], remove: ["AAPL"] });
    m.publish("AAPL");
    m.publish("SPY");
    expect(pullDescribed(stream)).to.deep.equal(["SNAPSHOT SPY@2", "UPDATE SPY@3"]);
    expect(m.fanout.subscriberCount("AAPL")).to.equal(0);
  });

  it("does not let one caller change another caller's stream", async () => {
    const m = market();
    const stream = await openQuoteStream(m.deps, { callerId: "alice", symbols: ["AAPL"] });
    const request = { callerId: "mallory", streamId: stream.streamId, add: ["MSFT"], remove: [] };
    expect(await errorCodeOf(() => updateSubscription(m.deps, request))).to.equal("STREAM_NOT_FOUND");
    expect(await errorCodeOf(() => updateSubscription(m.deps, { ...request, callerId: "alice", streamId: "nope" }))).to.equal("STREAM_NOT_FOUND");
  });

  it("on resume replays every missed seq from the buffer, then continues live", async () => {
    const m = market();
    const first = await openQuoteStream(m.deps, { callerId: "alice", symbols: ["AAPL", "MSFT"] });
    m.publishMany("AAPL", 2);
    pullAll(first);
    const token = first.resumeToken();
    closeQuoteStream(m.deps, first);

    m.publishMany("AAPL", 3);
    m.publish("MSFT");
    const resumed = await openQuoteStream(m.deps, { callerId: "alice", symbols: [], resumeToken: token });
    m.publish("AAPL");
    expect(pullDescribed(resumed)).to.deep.equal(["UPDATE AAPL@3", "UPDATE AAPL@4", "UPDATE AAPL@5", "UPDATE MSFT@1", "UPDATE AAPL@6"]);
  });

  it("on resume sends GAP then a fresh SNAPSHOT when the buffer no longer holds the missed seqs", async () => {
    const m = market({ ringCapacity: 3 });
    const first = await openQuoteStream(m.deps, { callerId: "alice", symbols: ["AAPL"] });
    m.publishMany("AAPL", 2);
    pullAll(first);
    const token = first.resumeToken();
    closeQuoteStream(m.deps, first);

    m.publishMany("AAPL", 10);
    const resumed = await openQuoteStream(m.deps, { callerId: "alice", symbols: ["AAPL"], resumeToken: token });
    m.publish("AAPL");
    expect(pullDescribed(resumed)).to.deep.equal(["GAP AAPL from 3 BUFFER_EXPIRED", "SNAPSHOT AAPL@12", "UPDATE AAPL@13"]);
  });

  it("on resume after the producer restarted sends GAP with EPOCH_CHANGED and a snapshot in the new epoch", async () => {
    const m = market();
    const first = await openQuoteStream(m.deps, { callerId: "alice", symbols: ["AAPL"] });
    m.publishMany("AAPL", 2);
    pullAll(first);
    const token = first.resumeToken();
    closeQuoteStream(m.deps, first);

    m.restartEpoch(EPOCH + 1);
    m.publishMany("AAPL", 2);
    const resumed = await openQuoteStream(m.deps, { callerId: "alice", symbols: ["AAPL"], resumeToken: token });
    const frames = pullAll(resumed);
    expect(frames.map(describeFrame)).to.deep.equal(["GAP AAPL from 3 EPOCH_CHANGED", "SNAPSHOT AAPL@2"]);
    expect(frames.every((frame) => frame.epoch === EPOCH + 1)).to.equal(true);
  });

  it("buffers live updates that arrive while a replay is being read and sends them after it, in order", async () => {
    const m = market();
    let releaseReplay!: () => void;
    const replayGate = new Promise<void>((resolve) => (releaseReplay = resolve));
    m.deps = { ...m.deps, replay: { replay: async (...args) => (await replayGate, m.ring.replay(...args)) } } as QuoteStreamDeps;
    const first = await openQuoteStream(m.deps, { callerId: "alice", symbols: ["AAPL"] });
    pullAll(first);
    const token = first.resumeToken();
    closeQuoteStream(m.deps, first);

    m.publishMany("AAPL", 2);
    const opening = openQuoteStream(m.deps, { callerId: "alice", symbols: ["AAPL"], resumeToken: token });
    m.publishMany("AAPL", 2);
    releaseReplay();
    const resumed = await opening;
    expect(pullDescribed(resumed)).to.deep.equal(["UPDATE AAPL@1", "UPDATE AAPL@2", "UPDATE AAPL@3", "UPDATE AAPL@4"]);
  });

  it("conflates a stalled subscriber to the newest quote per symbol, tells it how much it lagged, and bounds its queue", async () => {
    const m = market({ bufferCapacity: 4 });
    const slow = await openQuoteStream(m.deps, { callerId: "slow", symbols: ["AAPL", "MSFT"] });
    const fast = await openQuoteStream(m.deps, { callerId: "fast", symbols: ["AAPL", "MSFT"] });
    pullAll(slow);
    pullAll(fast);
    const fastSeen: string[] = [];
    for (let round = 0; round < 500; round += 1) {
      m.publish("AAPL");
      if (round % 5 === 0) m.publish("MSFT");
      fastSeen.push(...pullDescribed(fast));
    }
    expect(fastSeen).to.have.length(600);
    expect(fastSeen.filter((frame) => frame.startsWith("LAGGED"))).to.deep.equal([]);

    // Four queued updates (the buffer's capacity); each seq jump is announced by a LAGGED right
    // before it, and sent plus replaced updates account for every publish (500 AAPL, 100 MSFT).
    const frames = pullAll(slow).map(describeFrame);
    expect(frames).to.deep.equal(["UPDATE AAPL@1", "LAGGED 99", "UPDATE MSFT@100", "UPDATE AAPL@2", "LAGGED 497", "UPDATE AAPL@500"]);
  });

  it("sends one HEARTBEAT per request with the latest seq sent per symbol, and a token that resumes from what was sent", async () => {
    const m = market();
    m.publishMany("MSFT", 2);
    const stream = await openQuoteStream(m.deps, { callerId: "alice", symbols: ["AAPL", "MSFT"] });
    m.publishMany("AAPL", 2);
    expect(describeFrame(stream.pull()!)).to.equal("SNAPSHOT MSFT@2");
    stream.requestHeartbeat();
    stream.requestHeartbeat();
    expect(describeFrame(stream.pull()!)).to.equal("HEARTBEAT AAPL@0,MSFT@2");
    expect([...decodeResumeToken(stream.resumeToken()).seqBySymbol]).to.deep.equal([["AAPL", 0], ["MSFT", 2]]);
    expect(pullDescribed(stream)).to.deep.equal(["UPDATE AAPL@1", "UPDATE AAPL@2"]);
    expect([...decodeResumeToken(stream.resumeToken()).seqBySymbol]).to.deep.equal([["AAPL", 2], ["MSFT", 2]]);
  });

  it("resyncs subscribers with GAP and SNAPSHOT when the bus loses a message", async () => {
    const m = market();
    const stream = await openQuoteStream(m.deps, { callerId: "alice", symbols: ["AAPL"] });
    m.deliverRaw("AAPL", 1);
    expect(pullDescribed(stream)).to.deep.equal(["UPDATE AAPL@1"]);
    m.deliverRaw("AAPL", 4);
    m.deliverRaw("AAPL", 4);
    m.deliverRaw("AAPL", 5);
    expect(pullDescribed(stream)).to.deep.equal(["GAP AAPL from 2 BUS_GAP", "SNAPSHOT AAPL@4", "UPDATE AAPL@5"]);
  });

  it("restarts every symbol of a running stream from a snapshot when a new epoch appears on the bus", async () => {
    const m = market();
    const stream = await openQuoteStream(m.deps, { callerId: "alice", symbols: ["AAPL", "MSFT"] });
    m.publishMany("AAPL", 2);
    m.publish("MSFT");
    pullAll(stream);
    m.restartEpoch(EPOCH + 5);
    m.publish("AAPL");
    m.publish("MSFT");
    expect(pullDescribed(stream)).to.deep.equal([
      "GAP AAPL from 3 EPOCH_CHANGED",
      "SNAPSHOT AAPL@0",
      "GAP MSFT from 2 EPOCH_CHANGED",
      "SNAPSHOT MSFT@0",
      "UPDATE AAPL@1",
      "UPDATE MSFT@1",
    ]);
    expect(stream.currentEpoch).to.equal(EPOCH + 5);
  });

  it("ends every stream with a final frame, before anything still queued, resumable from what was sent", async () => {
    const m = market();
    const stream = await openQuoteStream(m.deps, { callerId: "alice", symbols: ["AAPL"] });
    m.publishMany("AAPL", 3);
    expect(describeFrame(stream.pull()!)).to.equal("UPDATE AAPL@1");
    endAllQuoteStreams(m.deps, "SERVER_SHUTDOWN");
    const end = stream.pull();
    expect(end?.kind).to.equal("END");
    if (end?.kind !== "END") return;
    expect(end.reason).to.equal("SERVER_SHUTDOWN");
    expect(decodeResumeToken(stream.resumeToken()).seqBySymbol.get("AAPL")).to.equal(1);
    expect(stream.pull()).to.equal(undefined);
    expect(stream.isFinished).to.equal(true);
  });

  it("wakes a waiting transport when a frame becomes available", async () => {
    const m = market();
    const stream = await openQuoteStream(m.deps, { callerId: "alice", symbols: ["AAPL"] });
    pullAll(stream);
    let isAwake = false;
    const waiting = stream.whenReadable().then(() => (isAwake = true));
    await Promise.resolve();
    expect(isAwake).to.equal(false);
    m.publish("AAPL");
    await waiting;
    expect(isAwake).to.equal(true);
  });
});
