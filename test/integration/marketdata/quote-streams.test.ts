import { expect } from "chai";
import { Status } from "nice-grpc-common";
import { GapReason, StreamEndReason } from "../../../generated/tradeplane/marketdata/v1/market_data_service";
import { register } from "../../../services/marketdata/main";
import { startSystem, type TestSystem } from "../../support/system";
import { describeFrame, detailedClient, failureOf, isUpdateOf, marketDataEnv, openStream, publish, ticksFor, type Frame, type StreamReader } from "./support";

const updateSeqs = (frames: readonly Frame[], symbol: string) =>
  frames.flatMap((frame) => (frame.frame?.$case === "update" && frame.frame.value.symbol === symbol ? [Number(frame.frame.value.seq)] : []));

describe("StreamQuotes and UpdateSubscription (through the generated client)", () => {
  let system: TestSystem;
  const open: StreamReader[] = [];
  const stream = (clients: TestSystem["clients"], request: { symbols?: string[]; resumeToken?: string }) => {
    const reader = openStream(clients, request);
    open.push(reader);
    return reader;
  };

  before(async () => {
    system = await startSystem([register], {
      env: marketDataEnv({
        MARKETDATA_HEARTBEAT_INTERVAL: "300ms",
        MARKETDATA_MAX_STREAMS_PER_CALLER: "3",
        MARKETDATA_MAX_SYMBOLS_PER_STREAM: "3",
        MARKETDATA_STREAM_BUFFER: "32",
        QUOTE_BUS_RETENTION: "50",
      }),
    });
  });

  afterEach(() => {
    for (const reader of open.splice(0)) reader.close();
  });

  after(async () => {
    await system?.stop();
  });

  it("sends a SNAPSHOT per quoted symbol first, then UPDATEs with contiguous seqs, each frame with stream id, epoch and resume token", async () => {
    await publish(system.clients, ticksFor("HD", 2, 362.75));
    const reader = stream(system.clients, { symbols: ["hd", "UNH"] });
    const first = await reader.next();
    expect(describeFrame(first)).to.equal("SNAPSHOT HD@2");
    await publish(system.clients, [...ticksFor("HD", 1, 362.75, Date.now()), ...ticksFor("UNH", 1, 525.35, Date.now())]);
    const frames = [first, ...(await reader.until(isUpdateOf("UNH", 1)))].filter((frame) => frame.frame?.$case !== "heartbeat");
    expect(frames.map(describeFrame)).to.deep.equal(["SNAPSHOT HD@2", "UPDATE HD@3", "UPDATE UNH@1"]);
    expect(new Set(frames.map((frame) => frame.streamId)).size).to.equal(1);
    expect(frames[0]!.streamId).to.match(/^[0-9a-f-]{36}$/);
    expect(new Set(frames.map((frame) => frame.streamEpoch)).size).to.equal(1);
    expect(frames.every((frame) => frame.resumeToken.length > 0)).to.equal(true);
  });

  it("sends HEARTBEAT frames every interval with the latest seq sent per symbol", async () => {
    await publish(system.clients, ticksFor("AMD", 3, 178.6));
    const reader = stream(system.clients, { symbols: ["AMD", "ORCL"] });
    const frames = await reader.until((frame) => frame.frame?.$case === "heartbeat", 3_000);
    const heartbeat = frames[frames.length - 1]!.frame;
    if (heartbeat?.$case !== "heartbeat") throw new Error("expected a heartbeat");
    expect(heartbeat.value.latestSeq).to.deep.equal({ AMD: "3", ORCL: "0" });
    expect(heartbeat.value.serverTime).to.be.instanceOf(Date);
  });

  it("resumes with the token: every seq missed while disconnected is replayed, with no new SNAPSHOT", async () => {
    await publish(system.clients, ticksFor("CRM", 1, 295.15));
    const first = stream(system.clients, { symbols: ["CRM"] });
    const [snapshot] = await first.until(() => true);
    expect(describeFrame(snapshot!)).to.equal("SNAPSHOT CRM@1");
    first.close();

    await publish(system.clients, ticksFor("CRM", 5, 295.15, Date.now()));
    const resumed = stream(system.clients, { resumeToken: snapshot!.resumeToken });
    await publish(system.clients, ticksFor("CRM", 1, 295.15, Date.now() + 10));
    const frames = await resumed.until(isUpdateOf("CRM", 7));
    expect(frames.map(describeFrame).filter((text) => text !== "HEARTBEAT")).to.deep.equal([
      "UPDATE CRM@2",
      "UPDATE CRM@3",
      "UPDATE CRM@4",
      "UPDATE CRM@5",
      "UPDATE CRM@6",
      "UPDATE CRM@7",
    ]);
    expect(frames[0]!.streamId).to.not.equal(snapshot!.streamId);
  });

  it("resumes with a GAP and a fresh SNAPSHOT when the bus no longer holds the missed seqs", async () => {
    await publish(system.clients, ticksFor("ADBE", 1, 575.8));
    const first = stream(system.clients, { symbols: ["ADBE"] });
    const [snapshot] = await first.until(() => true);
    first.close();

    await publish(system.clients, ticksFor("ADBE", 400, 575.8, Date.now() - 450));
    const resumed = stream(system.clients, { resumeToken: snapshot!.resumeToken });
    const frames = (await resumed.until((frame) => frame.frame?.$case === "snapshot")).filter((frame) => frame.frame?.$case !== "heartbeat");
    expect(frames.map(describeFrame)).to.deep.equal(["GAP ADBE from 2", "SNAPSHOT ADBE@401"]);
    const gap = frames[0]!.frame;
    expect(gap?.$case === "gap" && gap.value.reason).to.equal(GapReason.GAP_REASON_BUFFER_EXPIRED);
  });

  it("adds and removes symbols of a running stream without reconnecting", async () => {
    await publish(system.clients, [...ticksFor("INTC", 2, 43.2), ...ticksFor("CSCO", 1, 49.95)]);
    const reader = stream(system.clients, { symbols: ["CSCO"] });
    const [snapshot] = await reader.until(() => true);
    const response = await system.clients.marketData.updateSubscription({ streamId: snapshot!.streamId, add: ["intc", "MCD"], remove: ["CSCO"] });
    expect(response.symbols).to.deep.equal(["INTC", "MCD"]);
    await publish(system.clients, [...ticksFor("CSCO", 1, 49.95, Date.now()), ...ticksFor("INTC", 1, 43.2, Date.now())]);
    const frames = await reader.until(isUpdateOf("INTC", 3));
    expect(frames.map(describeFrame).filter((text) => text !== "HEARTBEAT")).to.deep.equal(["SNAPSHOT INTC@2", "UPDATE INTC@3"]);
  });

  it("does not let another caller change a stream, and reports unknown symbols and limits with their reasons", async () => {
    const reader = stream(system.clients, { symbols: ["MCD"] });
    await publish(system.clients, ticksFor("MCD", 1, 290.55, Date.now()));
    const [first] = await reader.until(() => true);
    const mallory = await detailedClient(system, { sub: "mallory", roles: ["trader"], portfolios: [] });
    expect(await failureOf(mallory.updateSubscription({ streamId: first!.streamId, add: ["AAPL"], remove: [] }))).to.deep.include({
      code: Status.NOT_FOUND,
      reason: "STREAM_NOT_FOUND",
    });

    const md = await detailedClient(system, { sub: "limited", roles: ["trader"], portfolios: [] });
    const admin = await detailedClient(system, { sub: "test-admin", roles: ["admin", "trader", "feed"], portfolios: ["*"] });
    const read = (symbols: string[]) => md.streamQuotes({ symbols, resumeToken: "" })[Symbol.asyncIterator]().next();
    const unknown = await failureOf(read(["AAPL", "NOPE"]));
    expect(unknown).to.deep.include({ code: Status.NOT_FOUND, reason: "UNKNOWN_SYMBOL" });
    expect(unknown.metadata.symbol).to.equal("NOPE");
    expect(await failureOf(read(["AAPL", "MSFT", "SPY", "QQQ"]))).to.deep.include({ code: Status.RESOURCE_EXHAUSTED, reason: "TOO_MANY_SYMBOLS" });
    expect(await failureOf(updateAbove(first!.streamId))).to.deep.include({ code: Status.RESOURCE_EXHAUSTED, reason: "TOO_MANY_SYMBOLS" });
    expect(await failureOf(read([]))).to.deep.include({ code: Status.INVALID_ARGUMENT });
    expect(await failureOf(md.streamQuotes({ symbols: [], resumeToken: "garbage" })[Symbol.asyncIterator]().next())).to.deep.include({
      code: Status.INVALID_ARGUMENT,
      reason: "INVALID_RESUME_TOKEN",
    });

    const limited = await system.clientsAs({ sub: "limited", roles: ["trader"], portfolios: [] });
    const streams = [stream(limited, { symbols: ["MCD"] }), stream(limited, { symbols: ["MCD"] }), stream(limited, { symbols: ["MCD"] })];
    await Promise.all(streams.map((s) => s.next()));
    expect(await failureOf(read(["MCD"]))).to.deep.include({ code: Status.RESOURCE_EXHAUSTED, reason: "TOO_MANY_STREAMS" });
    streams[0]!.close();
    await new Promise((resolve) => setTimeout(resolve, 200));
    const again = stream(limited, { symbols: ["MCD"] });
    expect(describeFrame(await again.next())).to.equal("SNAPSHOT MCD@1");

    function updateAbove(streamId: string) {
      return admin.updateSubscription({ streamId, add: ["AAPL", "MSFT", "SPY"], remove: [] });
    }
  });

  it("conflates a stalled subscriber with LAGGED notices where its seqs jump, while a reading subscriber receives every update", async () => {
    await publish(system.clients, ticksFor("NKE", 1, 98.7, Date.now() - 5_000));
    const slowClients = await system.clientsAs({ sub: "slow-reader", roles: ["trader"], portfolios: [] });
    const fastClients = await system.clientsAs({ sub: "fast-reader", roles: ["trader"], portfolios: [] });
    const slow = stream(slowClients, { symbols: ["NKE"] });
    const fast = stream(fastClients, { symbols: ["NKE"] });
    expect(describeFrame(await slow.next())).to.equal("SNAPSHOT NKE@1");
    expect(describeFrame(await fast.next())).to.equal("SNAPSHOT NKE@1");

    // A feed ticking in small messages: a reading subscriber keeps up, the stalled one cannot.
    const total = 1_000;
    const fastFrames = fast.until(isUpdateOf("NKE", total + 1), 20_000);
    const ticks = ticksFor("NKE", total, 98.7, Date.now() - total - 1_000);
    for (let start = 0; start < total; start += 10) await publish(system.clients, ticks.slice(start, start + 10));
    const fastSeen = (await fastFrames).filter((frame) => frame.frame?.$case !== "heartbeat");
    expect(fastSeen.map(describeFrame)).to.deep.equal(Array.from({ length: total }, (_, index) => `UPDATE NKE@${index + 2}`));

    const slowFrames = (await slow.until(isUpdateOf("NKE", total + 1), 10_000)).filter((frame) => frame.frame?.$case !== "heartbeat");
    const conflated = slowFrames.reduce((sum, frame) => sum + (frame.frame?.$case === "lagged" ? Number(frame.frame.value.conflatedCount) : 0), 0);
    const slowSeqs = updateSeqs(slowFrames, "NKE");
    expect(conflated).to.be.greaterThan(0);
    expect(slowSeqs.length + conflated).to.equal(total);
    expect(slowSeqs.length).to.be.lessThan(total / 2);
    // Every jump in seq is announced by a LAGGED frame right before it, with the exact number skipped.
    let previousSeq = 1;
    slowFrames.forEach((frame, index) => {
      if (frame.frame?.$case !== "update") return;
      const seq = Number(frame.frame.value.seq);
      if (seq !== previousSeq + 1) {
        const notice = slowFrames[index - 1]!.frame;
        expect(notice?.$case).to.equal("lagged");
        expect(notice?.$case === "lagged" && Number(notice.value.conflatedCount)).to.equal(seq - previousSeq - 1);
      }
      previousSeq = seq;
    });
  });
});

describe("StreamQuotes at server shutdown", () => {
  it("ends open streams with an END frame carrying a resume token, then status OK", async () => {
    const system = await startSystem([register], { env: marketDataEnv() });
    try {
      await publish(system.clients, ticksFor("BA", 1, 205.3));
      const reader = openStream(system.clients, { symbols: ["BA"] });
      expect(describeFrame(await reader.next())).to.equal("SNAPSHOT BA@1");
      const stopping = system.stop();
      const end = await reader.next();
      expect(describeFrame(end)).to.equal("END");
      expect(end.frame?.$case === "end" && end.frame.value.reason).to.equal(StreamEndReason.STREAM_END_REASON_SERVER_SHUTDOWN);
      expect(end.resumeToken.length).to.be.greaterThan(0);
      // The call then completes with status OK: the iterator ends instead of throwing.
      expect(await reader.next().then(describeFrame, (error: Error) => error.message)).to.equal("stream ended");
      await stopping;
    } finally {
      await system.stop();
    }
  });
});
