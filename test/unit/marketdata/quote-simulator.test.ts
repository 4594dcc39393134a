import { expect } from "chai";
import { isOnTickGrid } from "../../../services/marketdata/domain/instrument";
import { seedInstruments } from "../../../services/marketdata/domain/instrument-seed";
import { QuoteSimulator } from "../../../services/marketdata/domain/quote-simulator";

const instruments = seedInstruments().filter((instrument) => instrument.isTradable);
const options = { seed: 42, volatilityPerStep: 0.002, maxHalfSpreadTicks: 2 };

describe("marketdata quote simulator", () => {
  it("replays the same path for the same seed, whatever order symbols are stepped in", () => {
    const first = new QuoteSimulator(instruments, options);
    const second = new QuoteSimulator(instruments, options);
    const pathA: string[] = [];
    const pathB: string[] = [];
    for (let step = 0; step < 50; step += 1) {
      pathA.push(first.step("AAPL", step).last!.toString());
      first.step("MSFT", step);
    }
    for (let step = 0; step < 50; step += 1) {
      second.step("MSFT", step);
      pathB.push(second.step("AAPL", step).last!.toString());
    }
    expect(pathA).to.deep.equal(pathB);
    expect(new Set(pathA).size).to.be.greaterThan(5);
  });

  it("gives a different path for a different seed", () => {
    const a = new QuoteSimulator(instruments, options);
    const b = new QuoteSimulator(instruments, { ...options, seed: 43 });
    const pathA = Array.from({ length: 20 }, (_, step) => a.step("AAPL", step).last!.toString());
    const pathB = Array.from({ length: 20 }, (_, step) => b.step("AAPL", step).last!.toString());
    expect(pathA).to.not.deep.equal(pathB);
  });

  it("keeps every price on the tick grid, the bid positive and below or at the ask, for every instrument", () => {
    const simulator = new QuoteSimulator(instruments, options);
    for (const instrument of instruments) {
      for (let step = 0; step < 200; step += 1) {
        const quote = simulator.step(instrument.symbol, step);
        for (const price of [quote.bid, quote.ask, quote.last!]) {
          expect(isOnTickGrid(price, instrument.tickSize), `${instrument.symbol} ${price}`).to.equal(true);
        }
        expect(quote.bid.greaterThan(0), instrument.symbol).to.equal(true);
        expect(quote.bid.lessThanOrEqualTo(quote.ask)).to.equal(true);
        expect(quote.exchangeTimeMs).to.equal(step);
      }
    }
  });

  it("stays positive even under extreme volatility", () => {
    const simulator = new QuoteSimulator(instruments, { ...options, volatilityPerStep: 0.9 });
    for (let step = 0; step < 2_000; step += 1) {
      const quote = simulator.step("DOGE", step);
      expect(quote.bid.greaterThan(0)).to.equal(true);
    }
  });

  it("quotes whole round lots for equities and fractional sizes for crypto", () => {
    const simulator = new QuoteSimulator(instruments, options);
    const aapl = simulator.step("AAPL", 0);
    expect(aapl.lastSize.mod(100).isZero()).to.equal(true);
    const btc = simulator.step("BTC", 0);
    expect(btc.lastSize.greaterThan(0)).to.equal(true);
    expect(btc.lastSize.decimalPlaces()).to.be.at.most(4);
  });
});
