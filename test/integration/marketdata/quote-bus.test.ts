import { randomUUID } from "node:crypto";
import { expect } from "chai";
import Decimal from "decimal.js";
import { createRedisStreamBus } from "../../../services/platform/stream-bus-redis";
import type { StreamBus } from "../../../services/platform/messaging";
import { createMemoryQuoteBus } from "../../../services/marketdata/adapters/quote-bus-memory";
import { createRedisQuoteBus } from "../../../services/marketdata/adapters/quote-bus-redis";
import type { Quote, SequencedQuote } from "../../../services/marketdata/domain/quote";
import type { QuoteBus } from "../../../services/marketdata/domain/quote-bus";

function quote(symbol: string, exchangeTimeMs: number, last = "100.00"): Quote {
  const price = new Decimal(last);
  return { symbol, bid: price.minus("0.01"), ask: price.plus("0.01"), last: price, bidSize: new Decimal(100), askSize: new Decimal(100), lastSize: new Decimal(5), volume: new Decimal(5), exchangeTimeMs };
}

const until = async (condition: () => boolean, timeoutMs = 3_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
};

interface BusPair {
  /** Two processes' views of one shared bus (the same object for the in-process bus). */
  readonly a: QuoteBus;
  readonly b: QuoteBus;
  close(): Promise<void>;
}

const variants: { name: string; isAvailable: () => boolean; make: (retention: number) => Promise<BusPair> }[] = [
  {
    name: "in-process",
    isAvailable: () => true,
    async make(retention) {
      const bus = createMemoryQuoteBus({ retentionPerSymbol: retention, retentionMs: 60_000, nowMs: Date.now });
      return { a: bus, b: bus, close: () => bus.close() };
    },
  },
  {
    name: "Redis",
    isAvailable: () => Boolean(process.env.REDIS_URL),
    async make(retention) {
      const url = process.env.REDIS_URL!;
      const namespace = `test-${randomUUID()}:`;
      const streams: StreamBus[] = [];
      const open = () => {
        const bus = createRedisStreamBus({ url, retention, blockMs: 200 });
        streams.push(bus);
        return createRedisQuoteBus({ url, streams: bus, retentionPerSymbol: retention, nowMs: Date.now, namespace });
      };
      const a = open();
      const b = open();
      return {
        a,
        b,
        async close() {
          await a.close();
          await b.close();
          for (const bus of streams) await bus.close();
        },
      };
    },
  },
];

for (const variant of variants) {
  describe(`marketdata quote bus (${variant.name})`, function () {
    let pair: BusPair;

    before(function () {
      if (!variant.isAvailable()) {
        if (process.env.REQUIRE_REAL_SERVICES === "1") throw new Error("REDIS_URL is required");
        this.skip();
      }
    });

    afterEach(async () => {
      await pair?.close();
    });

    it("numbers each symbol's quotes 1, 2, 3 within one epoch", async () => {
      pair = await variant.make(100);
      const epoch = await pair.a.currentEpoch();
      const published = [];
      for (let index = 0; index < 3; index += 1) published.push(await pair.a.publish(quote("AAA", 1_000 + index)));
      published.push(await pair.a.publish(quote("BBB", 2_000)));
      expect(published.map((q) => `${q.symbol}@${q.seq}`)).to.deep.equal(["AAA@1", "AAA@2", "AAA@3", "BBB@1"]);
      expect(published.every((q) => q.epoch === epoch)).to.equal(true);
      expect(await pair.b.currentEpoch()).to.equal(epoch);
    });

    it("delivers quotes published by one process to subscribers of another, in order, without gaps", async () => {
      pair = await variant.make(1_000);
      const received: SequencedQuote[] = [];
      const subscription = await pair.b.subscribe(["AAA", "BBB"], (q) => received.push(q));
      const sent = await Promise.all(Array.from({ length: 200 }, (_, index) => pair.a.publish(quote(index % 3 === 0 ? "BBB" : "AAA", 10_000 + index))));
      await until(() => received.length === sent.length);
      for (const symbol of ["AAA", "BBB"]) {
        const seqs = received.filter((q) => q.symbol === symbol).map((q) => q.seq);
        expect(seqs).to.deep.equal(seqs.map((_, index) => index + 1));
      }
      expect(received[0]!.last.toString()).to.equal("100");
      await subscription.close();
    });

    it("replays a retained seq range and reports a trimmed one as unavailable", async () => {
      pair = await variant.make(5);
      const epoch = await pair.a.currentEpoch();
      for (let index = 0; index < 300; index += 1) await pair.a.publish(quote("AAA", 1_000 + index, `${100 + index}.00`));
      const recent = await pair.b.replay("AAA", epoch, 296, 300);
      expect(recent?.map((q) => q.seq)).to.deep.equal([296, 297, 298, 299, 300]);
      expect(recent?.[4]?.last.toString()).to.equal("399");
      expect(await pair.b.replay("AAA", epoch, 1, 300)).to.equal(undefined);
      expect(await pair.b.replay("AAA", epoch + 1, 296, 300)).to.equal(undefined);
    });

    it("returns the newest quote per symbol for warming a new process", async () => {
      pair = await variant.make(100);
      await pair.a.publish(quote("AAA", 1_000, "10.00"));
      await pair.a.publish(quote("AAA", 1_001, "11.00"));
      const latest = await pair.b.latest(["AAA", "ZZZ"]);
      expect(latest.map((q) => [q.symbol, q.seq, q.last.toString()])).to.deep.equal([["AAA", 2, "11"]]);
    });
  });
}
