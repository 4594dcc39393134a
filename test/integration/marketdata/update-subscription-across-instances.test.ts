// UpdateSubscription reaches a quote stream whichever market data instance receives it. Behind a load balancer the
// update may land on an instance that does not hold the stream; that instance asks the others (over Redis) and
// answers with what the holder answered, so the caller sees the same response and the same errors either way.
import { expect } from "chai";
import { Status } from "nice-grpc-common";
import { register } from "../../../services/marketdata/main";
import { realUrls } from "../../support/backends";
import { eventually } from "../../support/eventually";
import { startSystem, type TestSystem } from "../../support/system";
import { describeFrame, detailedClient, failureOf, isUpdateOf, marketDataEnv, openStream, publish, ticksFor, type StreamReader } from "./support";

/**
 * Longer than a test may take: a call that waited for this timeout instead of learning at once that no instance
 * holds the stream fails its test by timing out.
 */
const LONG_FORWARD_TIMEOUT = "120s";

const OWNER = { sub: "update-owner", roles: ["trader" as const], portfolios: [] };
const MALLORY = { sub: "update-mallory", roles: ["trader" as const], portfolios: [] };

/** Publishes one tick per symbol, each newer than any tick this file published before for it. */
function tickPublisher(system: () => TestSystem) {
  let lastMs = 0;
  return async (...symbols: string[]) => {
    const ticks = symbols.map((symbol) => {
      lastMs = Math.max(Date.now() - 2_000, lastMs + 1);
      return ticksFor(symbol, 1, symbol === "PG" ? 165.4 : 152.1, lastMs)[0]!;
    });
    const response = await publish(system().clients, ticks);
    expect(response.rejectedCount, JSON.stringify(response.rejections)).to.equal("0");
  };
}

/** Reads a stream's first frame and returns the stream's id. */
async function streamIdOf(reader: StreamReader): Promise<string> {
  const frame = await reader.next();
  expect(frame.streamId).to.be.a("string").and.not.equal("");
  return frame.streamId;
}

describe("UpdateSubscription on any market data instance", function () {
  describe("two instances sharing Redis", function () {
    let a: TestSystem | undefined;
    let b: TestSystem | undefined;
    const readers: StreamReader[] = [];
    const tick = tickPublisher(() => a!);

    before(async function () {
      if (!realUrls.redis) {
        // The embedded quote bus and request channel belong to one runtime: two instances in one process share
        // neither, so there is no second instance that could hold the stream. REQUIRE_REAL_SERVICES=1 turns a
        // missing REDIS_URL into a failure of the whole run instead.
        console.warn("    skipping two instances: REDIS_URL is unset and the embedded bus is not shared between runtimes");
        this.skip();
      }
      const env = marketDataEnv({ MARKETDATA_UPDATE_FORWARD_TIMEOUT: LONG_FORWARD_TIMEOUT, MARKETDATA_MAX_SYMBOLS_PER_STREAM: "3" });
      a = await startSystem([register], { env });
      b = await startSystem([register], { env });
    });

    after(async () => {
      for (const reader of readers) reader.close();
      await a?.stop();
      await b?.stop();
    });

    const open = async (system: TestSystem, symbols: string[]) => {
      const reader = openStream(await system.clientsAs(OWNER), { symbols });
      readers.push(reader);
      return { reader, streamId: await streamIdOf(reader) };
    };

    it("applies an update received by B to the stream open on A: the added symbol flows there, the removed one stops", async () => {
      await tick("PG", "CVX");
      const { reader, streamId } = await open(a!, ["PG"]);
      const ownerOnB = await b!.clientsAs(OWNER);

      const response = await ownerOnB.marketData.updateSubscription({ streamId, add: ["cvx"], remove: ["PG"] });
      expect(response.symbols).to.deep.equal(["CVX"]);

      // Published through B: the instances share the quote bus, so A's fan-out sees every quote.
      await tick("PG", "CVX");
      const received = await reader.until(isUpdateOf("CVX", 2), 10_000);
      // Any PG update was delivered to A no later than the CVX update after it; one more CVX quote flushes it out.
      await tick("PG", "CVX");
      received.push(...(await reader.until(isUpdateOf("CVX", 3), 10_000)));
      expect(received.map(describeFrame).filter((text) => text !== "HEARTBEAT")).to.deep.equal(["SNAPSHOT CVX@1", "UPDATE CVX@2", "UPDATE CVX@3"]);

      // The change is the stream's own, not B's copy: asking A (a no-op update) reports the same symbols.
      const fromOwner = await (await a!.clientsAs(OWNER)).marketData.updateSubscription({ streamId, add: [], remove: [] });
      expect(fromOwner.symbols).to.deep.equal(["CVX"]);
    });

    it("answers NOT_FOUND STREAM_NOT_FOUND through B for a stream no instance holds: never opened, or ended", async () => {
      const md = await detailedClient(b!, OWNER);
      expect(await failureOf(md.updateSubscription({ streamId: "3c1f0d7e-0000-4000-8000-000000000000", add: ["PG"], remove: [] }))).to.deep.include({
        code: Status.NOT_FOUND,
        reason: "STREAM_NOT_FOUND",
      });

      await tick("PG");
      const { reader, streamId } = await open(a!, ["PG"]);
      reader.close();
      // Cancelling reaches A's handler a moment after the client gives up; until then A still holds the stream.
      const failure = await eventually(
        () => failureOf(md.updateSubscription({ streamId, add: ["CVX"], remove: [] })).catch(() => undefined),
        (result) => result?.code === Status.NOT_FOUND,
      );
      expect(failure).to.deep.include({ code: Status.NOT_FOUND, reason: "STREAM_NOT_FOUND" });
    });

    it("answers NOT_FOUND for another caller's stream through either instance and leaves it unchanged", async () => {
      await tick("PG");
      const { streamId } = await open(a!, ["PG"]);
      for (const system of [b!, a!]) {
        const mallory = await detailedClient(system, MALLORY);
        expect(await failureOf(mallory.updateSubscription({ streamId, add: ["CVX"], remove: ["PG"] }))).to.deep.include({
          code: Status.NOT_FOUND,
          reason: "STREAM_NOT_FOUND",
        });
      }
      const unchanged = await (await b!.clientsAs(OWNER)).marketData.updateSubscription({ streamId, add: [], remove: [] });
      expect(unchanged.symbols).to.deep.equal(["PG"]);
    });

    it("reports bad symbols and the symbol limit through B exactly as A, which holds the stream, does", async () => {
      await tick("PG");
      const { streamId } = await open(a!, ["PG"]);
      const onA = await detailedClient(a!, OWNER);
      const onB = await detailedClient(b!, OWNER);
      const cases = [
        { add: ["not a ticker!"], expected: { code: Status.INVALID_ARGUMENT, reason: "INVALID_SYMBOL" } },
        { add: ["NOPE", "CVX"], expected: { code: Status.NOT_FOUND, reason: "UNKNOWN_SYMBOL" } },
        { add: ["CVX", "KO", "PEP"], expected: { code: Status.RESOURCE_EXHAUSTED, reason: "TOO_MANY_SYMBOLS" } },
      ];
      for (const { add, expected } of cases) {
        const throughB = await failureOf(onB.updateSubscription({ streamId, add, remove: [] }));
        expect(throughB, add.join(",")).to.deep.include(expected);
        expect(throughB, add.join(",")).to.deep.equal(await failureOf(onA.updateSubscription({ streamId, add, remove: [] })));
      }
      // Nothing changed: every failed update was all or nothing.
      expect((await onB.updateSubscription({ streamId, add: [], remove: [] })).symbols).to.deep.equal(["PG"]);
    });
  });

  describe("one instance (embedded bus, or Redis when configured)", function () {
    let system: TestSystem | undefined;
    const tick = tickPublisher(() => system!);

    before(async () => {
      system = await startSystem([register], { env: marketDataEnv({ MARKETDATA_UPDATE_FORWARD_TIMEOUT: LONG_FORWARD_TIMEOUT }) });
    });

    after(async () => {
      await system?.stop();
    });

    it("answers an unknown stream with NOT_FOUND at once, without waiting for other instances that are not there", async () => {
      const md = await detailedClient(system!, OWNER);
      expect(await failureOf(md.updateSubscription({ streamId: "no-such-stream", add: ["PG"], remove: [] }))).to.deep.include({
        code: Status.NOT_FOUND,
        reason: "STREAM_NOT_FOUND",
      });
    });

    it("answers NOT_FOUND for another caller's stream", async () => {
      await tick("PG");
      const reader = openStream(await system!.clientsAs(OWNER), { symbols: ["PG"] });
      try {
        const streamId = await streamIdOf(reader);
        const mallory = await detailedClient(system!, MALLORY);
        expect(await failureOf(mallory.updateSubscription({ streamId, add: ["CVX"], remove: [] }))).to.deep.include({
          code: Status.NOT_FOUND,
          reason: "STREAM_NOT_FOUND",
        });
      } finally {
        reader.close();
      }
    });
  });
});
