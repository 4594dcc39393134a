import { expect } from "chai";
import { Status } from "nice-grpc-common";
import { AssetClass, BarInterval, InstrumentStatus } from "../../../generated/tradeplane/marketdata/v1/market_data";
import { TickRejectionReason } from "../../../generated/tradeplane/marketdata/v1/market_data_service";
import { securityIdForSymbol } from "../../../services/marketdata/domain/instrument-seed";
import { register } from "../../../services/marketdata/main";
import { startSystem, type TestSystem } from "../../support/system";
import Decimal from "decimal.js";
import { detailedClient, failureOf, marketDataEnv, publish, ticksFor } from "./support";

describe("MarketDataService instruments, quotes, bars and feeds (through the generated client)", () => {
  let system: TestSystem;
  let md: Awaited<ReturnType<typeof detailedClient>>;

  before(async () => {
    system = await startSystem([register], { env: marketDataEnv() });
    md = await detailedClient(system);
  });

  after(async () => {
    await system?.stop();
  });

  const until = async <T>(read: () => Promise<T>, isDone: (value: T) => boolean, timeoutMs = 5_000): Promise<T> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await read();
      if (isDone(value) || Date.now() > deadline) return value;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };

  describe("GetInstrument and ListInstruments", () => {
    it("returns an instrument by symbol or by security id, with its session and lot rules", async () => {
      const { instrument } = await system.clients.marketData.getInstrument({ symbol: "aapl", securityId: "" });
      expect(instrument).to.deep.include({ symbol: "AAPL", securityId: securityIdForSymbol("AAPL"), assetClass: AssetClass.ASSET_CLASS_EQUITY, lotSize: "1", tickSize: "0.01", tradable: true, fractionable: false });
      expect(instrument?.session).to.deep.equal({ timeZone: "America/New_York", openTime: "09:30", closeTime: "16:00", alwaysOpen: false });
      const btc = await system.clients.marketData.getInstrument({ symbol: "", securityId: securityIdForSymbol("BTC") });
      // A plain decimal, as the contract requires: decimal.js's toString() would give "1e-8".
      expect(btc.instrument).to.deep.include({ symbol: "BTC", assetClass: AssetClass.ASSET_CLASS_CRYPTO, fractionable: true, minQuantity: "0.001", lotSize: "0.00000001" });
      expect(btc.instrument?.session?.alwaysOpen).to.equal(true);
    });

    it("answers NOT_FOUND with the symbol in the details for an unknown symbol, and INVALID_ARGUMENT without exactly one key", async () => {
      const unknown = await failureOf(md.getInstrument({ symbol: "NOPE", securityId: "" }));
      expect(unknown).to.deep.include({ code: Status.NOT_FOUND, reason: "UNKNOWN_SYMBOL" });
      expect(unknown.metadata.symbol).to.equal("NOPE");
      const unknownId = await failureOf(md.getInstrument({ symbol: "", securityId: "x".repeat(24) }));
      expect(unknownId).to.deep.include({ code: Status.NOT_FOUND, reason: "UNKNOWN_INSTRUMENT" });
      expect((await failureOf(md.getInstrument({ symbol: "", securityId: "" }))).code).to.equal(Status.INVALID_ARGUMENT);
    });

    it("lists instruments by symbol with filters and pages", async () => {
      const crypto = await system.clients.marketData.listInstruments({ assetClass: AssetClass.ASSET_CLASS_CRYPTO, pageSize: 5 });
      expect(crypto.instruments.map((i) => i.symbol)).to.deep.equal(["ADA", "AVAX", "BNB", "BTC", "DOGE"]);
      const next = await system.clients.marketData.listInstruments({ assetClass: AssetClass.ASSET_CLASS_CRYPTO, pageSize: 5, pageToken: crypto.nextPageToken });
      expect(next.instruments[0]?.symbol).to.equal("DOT");
      const delisted = await system.clients.marketData.listInstruments({ status: InstrumentStatus.INSTRUMENT_STATUS_DELISTED });
      expect(delisted.instruments.map((i) => i.symbol)).to.deep.equal(["TWTR"]);
      const everything = await system.clients.marketData.listInstruments({ pageSize: 1000 });
      expect(everything.instruments.length).to.be.at.least(50);
    });
  });

  describe("PublishQuotes, GetQuote and BatchGetQuotes", () => {
    it("accepts good ticks and rejects bad ones by index and reason without aborting the feed", async () => {
      const now = Date.now();
      const good = ticksFor("KO", 3, 60.15, now - 100);
      const result = await publish(system.clients, [
        good[0]!,
        { ...good[1]!, bid: "0" },
        { ...good[1]!, symbol: "ZZZZ" },
        { ...good[1]!, bid: "60.30", ask: "60.20" },
        { ...good[1]!, timestamp: new Date(now - 200) },
        { ...good[1]!, symbol: "TWTR", bid: "53.69", ask: "53.71", last: "53.70" },
        good[1]!,
        good[2]!,
      ]);
      expect(result.acceptedCount).to.equal("3");
      expect(result.rejectedCount).to.equal("5");
      expect(result.rejections.map((r) => [r.index, r.symbol, r.reason])).to.deep.equal([
        ["1", "KO", TickRejectionReason.TICK_REJECTION_REASON_NON_POSITIVE_PRICE],
        ["2", "ZZZZ", TickRejectionReason.TICK_REJECTION_REASON_UNKNOWN_SYMBOL],
        ["3", "KO", TickRejectionReason.TICK_REJECTION_REASON_CROSSED_QUOTE],
        ["4", "KO", TickRejectionReason.TICK_REJECTION_REASON_STALE_TIMESTAMP],
        ["5", "TWTR", TickRejectionReason.TICK_REJECTION_REASON_INSTRUMENT_NOT_ACTIVE],
      ]);
      expect(result.rejections[3]!.message).to.match(/not newer than the latest accepted tick for KO/);
    });

    it("refuses feeds from callers without the feed or admin role", async () => {
      const trader = await system.clientsAs({ sub: "md-trader", roles: ["trader"], portfolios: [] });
      const failure = await failureOf(publish(trader, ticksFor("KO", 1, 60)));
      expect(failure.code).to.equal(Status.PERMISSION_DENIED);
    });

    it("serves the latest accepted quote, with its seq and security id, as soon as PublishQuotes has answered", async () => {
      const ticks = ticksFor("PEP", 4, 168.3);
      await publish(system.clients, ticks);
      const { quote } = await system.clients.marketData.getQuote({ symbol: "pep" });
      expect(quote).to.deep.include({ symbol: "PEP", securityId: securityIdForSymbol("PEP"), seq: "4", volume: "40" });
      expect(new Decimal(quote!.last).equals(ticks[3]!.last)).to.equal(true);
      expect(new Decimal(quote!.bid).equals(ticks[3]!.bid)).to.equal(true);
      expect(quote?.timestamp?.getTime()).to.equal(ticks[3]!.timestamp!.getTime());
    });

    it("distinguishes a known symbol without a quote from an unknown one", async () => {
      expect(await failureOf(md.getQuote({ symbol: "SIVB" }))).to.deep.include({ code: Status.NOT_FOUND, reason: "NO_QUOTE" });
      const unknown = await failureOf(md.getQuote({ symbol: "NOPE" }));
      expect(unknown).to.deep.include({ code: Status.NOT_FOUND, reason: "UNKNOWN_SYMBOL" });
      expect(unknown.metadata.symbol).to.equal("NOPE");
    });

    it("answers a batch in request order and lists what it cannot answer", async () => {
      await publish(system.clients, [...ticksFor("WMT", 1, 165.2), ...ticksFor("JNJ", 1, 156.7)]);
      const response = await until(
        () => system.clients.marketData.batchGetQuotes({ symbols: ["jnj", "SIVB", "WMT", "NOPE", "JNJ"] }),
        (r) => r.quotes.length === 2,
      );
      expect(response.quotes.map((q) => q.symbol)).to.deep.equal(["JNJ", "WMT"]);
      expect(response.missingSymbols).to.deep.equal(["SIVB", "NOPE"]);
    });

    it("refuses more than 1,000 symbols in one batch", async () => {
      const symbols = Array.from({ length: 1001 }, (_, index) => `S${index}`);
      expect(await failureOf(md.batchGetQuotes({ symbols }))).to.deep.include({ code: Status.INVALID_ARGUMENT, reason: "BATCH_TOO_LARGE" });
    });
  });

  describe("GetBars", () => {
    it("builds 1m, 1h and 1d OHLCV bars from the stored ticks", async () => {
      const now = Date.now();
      const base = ticksFor("XOM", 4, 104.9, now - 50);
      // Extreme prices make this test's ticks recognisable even if the bar also holds earlier ticks.
      base[1] = { ...base[1]!, bid: "999.98", ask: "1000.00", last: "999.99" };
      base[2] = { ...base[2]!, bid: "0.01", ask: "0.03", last: "0.02" };
      await publish(system.clients, base);
      for (const interval of [BarInterval.BAR_INTERVAL_ONE_MINUTE, BarInterval.BAR_INTERVAL_ONE_HOUR, BarInterval.BAR_INTERVAL_ONE_DAY]) {
        const { bars } = await until(
          () => system.clients.marketData.getBars({ symbol: "XOM", interval }),
          (response) => response.bars.some((bar) => bar.high === "999.99"),
        );
        const bar = bars[bars.length - 1]!;
        expect(bar, `interval ${interval}`).to.deep.include({ symbol: "XOM", interval, high: "999.99", low: "0.02" });
        expect(new Decimal(bar.close).equals(base[3]!.last)).to.equal(true);
        expect(bar.tickCount).to.be.at.least(4);
      }
    });

    it("requires an interval and a known symbol", async () => {
      expect((await failureOf(md.getBars({ symbol: "XOM" }))).code).to.equal(Status.INVALID_ARGUMENT);
      expect(await failureOf(md.getBars({ symbol: "NOPE", interval: BarInterval.BAR_INTERVAL_ONE_DAY }))).to.deep.include({ reason: "UNKNOWN_SYMBOL" });
    });
  });
});
