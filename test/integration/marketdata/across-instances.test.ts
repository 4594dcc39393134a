import { createServer, connect, type Server, type Socket } from "node:net";
import { expect } from "chai";
import { register } from "../../../services/marketdata/main";
import { metricsText } from "../../../services/platform/metrics";
import { realUrls } from "../../support/backends";
import { startSystem, type TestSystem } from "../../support/system";
import { Status } from "nice-grpc-common";
import { describeFrame, failureOf, isUpdateOf, marketDataEnv, openStream, publish, ticksFor, type Frame } from "./support";

const updateSeqs = (frames: readonly Frame[]) =>
  frames.flatMap((frame) => (frame.frame?.$case === "update" ? [Number(frame.frame.value.seq)] : []));

describe("Market data across two instances sharing Redis", function () {
  let first: TestSystem | undefined;
  let second: TestSystem | undefined;

  before(async function () {
    // Without Redis there is no shared bus to test (REQUIRE_REAL_SERVICES makes a missing URL fail the run).
    if (!realUrls.redis) this.skip();
    const env = marketDataEnv();
    first = await startSystem([register], { env });
    second = await startSystem([register], { env });
  });

  after(async () => {
    await first?.stop();
    await second?.stop();
  });

  it("delivers quotes published through one instance to stream subscribers of the other, in order and without gaps", async () => {
    const ticks = ticksFor("GS", 200, 385.9, Date.now() - 1_000);
    await publish(first!.clients, ticks.slice(0, 1));
    const reader = openStream(second!.clients, { symbols: ["GS"] });
    try {
      // The SNAPSHOT proves the subscription is live before the rest of the feed flows.
      expect(describeFrame(await reader.next())).to.equal("SNAPSHOT GS@1");
      const frames = reader.until(isUpdateOf("GS", 200), 15_000);
      for (let start = 1; start < ticks.length; start += 20) await publish(first!.clients, ticks.slice(start, start + 20));
      const received = (await frames).filter((frame) => frame.frame?.$case !== "heartbeat");
      expect(received.map(describeFrame).filter((text) => !text.startsWith("UPDATE"))).to.deep.equal([]);
      expect(updateSeqs(received)).to.deep.equal(Array.from({ length: 199 }, (_, index) => index + 2));
    } finally {
      reader.close();
    }
  });

  it("resumes on one instance with a token from the other (one shared epoch and buffer)", async () => {
    await publish(first!.clients, ticksFor("VZ", 1, 40.35, Date.now() - 2_000));
    const reader = openStream(second!.clients, { symbols: ["VZ"] });
    const snapshot = await reader.next();
    expect(describeFrame(snapshot)).to.equal("SNAPSHOT VZ@1");
    reader.close();
    await publish(first!.clients, ticksFor("VZ", 4, 40.35, Date.now() - 500));
    const resumed = openStream(first!.clients, { resumeToken: snapshot.resumeToken });
    try {
      const frames = (await resumed.until(isUpdateOf("VZ", 5))).filter((frame) => frame.frame?.$case !== "heartbeat");
      expect(frames.map(describeFrame)).to.deep.equal(["UPDATE VZ@2", "UPDATE VZ@3", "UPDATE VZ@4", "UPDATE VZ@5"]);
    } finally {
      resumed.close();
    }
  });
});

/** A TCP proxy in front of Redis, so a test can "stop Redis" for one service without touching the real server. */
async function startProxy(targetPort: number, targetHost: string): Promise<{ port: number; stop(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(targetPort, targetHost);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      socket.on("error", () => undefined);
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("proxy has no port");
  return {
    port: address.port,
    async stop() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

async function degradedCount(): Promise<number> {
  const match = /^marketdata_quote_cache_degraded_total (\d+)/m.exec(await metricsText());
  return match ? Number(match[1]) : 0;
}

describe("Market data when Redis stops", function () {
  let system: TestSystem | undefined;
  let proxy: Awaited<ReturnType<typeof startProxy>> | undefined;

  before(async function () {
    if (!realUrls.redis) this.skip();
    const target = new URL(realUrls.redis);
    proxy = await startProxy(Number(target.port || 6379), target.hostname);
    system = await startSystem([register], { env: marketDataEnv({ REDIS_URL: `redis://127.0.0.1:${proxy.port}` }) });
  });

  after(async () => {
    await system?.stop();
    await proxy?.stop();
  });

  it("keeps serving GetQuote and BatchGetQuotes from Postgres and counts the degradation", async () => {
    const ticks = ticksFor("T", 3, 17.05, Date.now() - 1_000);
    await publish(system!.clients, ticks);
    const cached = await system!.clients.marketData.getQuote({ symbol: "T" });
    expect(cached.quote?.seq).to.equal("3");

    await proxy!.stop();
    const before = await degradedCount();
    const { quote } = await system!.clients.marketData.getQuote({ symbol: "T" });
    expect(quote).to.deep.include({ symbol: "T", seq: "3" });
    const batch = await system!.clients.marketData.batchGetQuotes({ symbols: ["T", "NOPE"] });
    expect(batch.quotes.map((q) => q.symbol)).to.deep.equal(["T"]);
    expect(batch.missingSymbols).to.deep.equal(["NOPE"]);
    expect(await degradedCount()).to.be.greaterThan(before);
  });

  it("answers a feed with UNAVAILABLE while the quote bus is down, instead of an internal error", async () => {
    const failure = await failureOf(publish(system!.clients, ticksFor("T", 1, 17.05, Date.now())));
    expect(failure.code).to.equal(Status.UNAVAILABLE);
  });
});
