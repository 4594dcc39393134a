import { expect } from "chai";
import Decimal from "decimal.js";
import { applyLotTrade, type CostBasisMethod, type LotTrade, type TaxLot } from "../../../services/accounting/domain/tax-lots";

const d = (v: string | number) => new Decimal(v);

function trade(id: string, delta: string, price: string, extra: Partial<LotTrade> = {}): LotTrade {
  return { transactionId: id, portfolioId: "p", securityId: "s", date: `202401${id.padStart(2, "0")}`, side: "LONG", delta: d(delta), price: d(price), fee: d(0), realizes: true, ...extra };
}

/** Runs trades through one book, returning the final lots and every closure. */
function run(method: CostBasisMethod, trades: LotTrade[]) {
  let lots: TaxLot[] = [];
  const closures = [];
  for (const t of trades) {
    const result = applyLotTrade(lots, method, t);
    lots = result.lots;
    closures.push(...result.closures);
  }
  return {
    lots: lots.map((l) => ({ lotId: l.lotId, quantity: l.quantity.toString(), cost: l.cost.toString() })),
    closures: closures.map((c) => ({ lotId: c.lotId, quantity: c.quantity.toString(), cost: c.cost.toString(), realized: c.realizedPnl.toString() })),
    realized: closures.reduce((sum, c) => sum.plus(c.realizedPnl), d(0)).toString(),
  };
}

// Three buys (10 @ 100, 10 @ 120, 10 @ 110) then a sale of 15 @ 130: the classic example where every method
// gives a different answer.
const threeBuysThenSale = [trade("1", "10", "100"), trade("2", "10", "120"), trade("3", "10", "110"), trade("4", "-15", "130")];

describe("tax lots", () => {
  it("FIFO sells the oldest lots first and realizes 350", () => {
    const r = run("FIFO", threeBuysThenSale);
    expect(r.closures).to.deep.equal([
      { lotId: "1", quantity: "10", cost: "1000", realized: "300" },
      { lotId: "2", quantity: "5", cost: "600", realized: "50" },
    ]);
    expect(r.realized).to.equal("350");
    expect(r.lots).to.deep.equal([
      { lotId: "2", quantity: "5", cost: "600" },
      { lotId: "3", quantity: "10", cost: "1100" },
    ]);
  });

  it("LIFO sells the newest lots first and realizes 250", () => {
    const r = run("LIFO", threeBuysThenSale);
    expect(r.closures).to.deep.equal([
      { lotId: "3", quantity: "10", cost: "1100", realized: "200" },
      { lotId: "2", quantity: "5", cost: "600", realized: "50" },
    ]);
    expect(r.realized).to.equal("250");
    expect(r.lots).to.deep.equal([
      { lotId: "1", quantity: "10", cost: "1000" },
      { lotId: "2", quantity: "5", cost: "600" },
    ]);
  });

  it("HIFO sells the highest-cost lots first and realizes 200", () => {
    const r = run("HIFO", threeBuysThenSale);
    expect(r.closures).to.deep.equal([
      { lotId: "2", quantity: "10", cost: "1200", realized: "100" },
      { lotId: "3", quantity: "5", cost: "550", realized: "100" },
    ]);
    expect(r.realized).to.equal("200");
    expect(r.lots).to.deep.equal([
      { lotId: "1", quantity: "10", cost: "1000" },
      { lotId: "3", quantity: "5", cost: "550" },
    ]);
  });

  it("AVERAGE pools the lots and realizes (price − average cost) × quantity as Hub does", () => {
    const r = run("AVERAGE", threeBuysThenSale);
    expect(r.closures).to.deep.equal([{ lotId: "avg", quantity: "15", cost: "1650", realized: "300" }]);
    expect(r.lots).to.deep.equal([{ lotId: "avg", quantity: "15", cost: "1650" }]);
  });

  it("AVERAGE follows Hub's moving average with fractional costs", () => {
    // avg = (3·10 + 2·11) / 5 = 10.4; selling 1 @ 12 realizes 1.6; the average does not move on a sale.
    const r = run("AVERAGE", [trade("1", "3", "10"), trade("2", "2", "11"), trade("3", "-1", "12")]);
    expect(r.realized).to.equal("1.6");
    expect(r.lots).to.deep.equal([{ lotId: "avg", quantity: "4", cost: "41.6" }]);
  });

  it("ties in HIFO keep the oldest lot first", () => {
    const r = run("HIFO", [trade("1", "5", "10"), trade("2", "5", "10"), trade("3", "-5", "11")]);
    expect(r.closures.map((c) => c.lotId)).to.deep.equal(["1"]);
  });

  it("an oversell leaves a negative lot that a later buy closes with the right P&L", () => {
    const r = run("FIFO", [trade("1", "10", "100"), trade("2", "-15", "90"), trade("3", "5", "80")]);
    expect(r.closures).to.deep.equal([
      { lotId: "1", quantity: "10", cost: "1000", realized: "-100" },
      { lotId: "2", quantity: "-5", cost: "-450", realized: "50" },
    ]);
    expect(r.lots).to.deep.equal([]);
  });

  it("a short lot realizes (short price − cover price) × quantity on a cover", () => {
    const r = run("FIFO", [trade("1", "10", "50", { side: "SHORT" }), trade("2", "-4", "40", { side: "SHORT" })]);
    expect(r.closures).to.deep.equal([{ lotId: "1", quantity: "4", cost: "-200", realized: "40" }]);
    expect(r.lots).to.deep.equal([{ lotId: "1", quantity: "6", cost: "-300" }]);
  });

  it("fees are part of the cost on a buy and reduce the proceeds on a sale", () => {
    const r = run("FIFO", [trade("1", "10", "100", { fee: d(5) }), trade("2", "-10", "110", { fee: d(5) })]);
    expect(r.closures).to.deep.equal([{ lotId: "1", quantity: "10", cost: "1005", realized: "90" }]);
  });

  it("a transfer out moves cost basis out without realizing P&L", () => {
    const r = run("FIFO", [trade("1", "10", "100", { realizes: false }), trade("2", "-4", "150", { realizes: false })]);
    expect(r.realized).to.equal("0");
    expect(r.lots).to.deep.equal([{ lotId: "1", quantity: "6", cost: "600" }]);
  });

  it("splits a sale's proceeds across lots so the shares add up to the exact proceeds", () => {
    // Three 1-unit lots sold at 3.33333333: the proceeds 9.99999999 do not split evenly, so each share is rounded
    // and the last one takes the remainder.
    const r = run("FIFO", [trade("1", "1", "1"), trade("2", "1", "1"), trade("3", "1", "1"), trade("4", "-3", "3.33333333")]);
    const total = r.closures.reduce((sum, c) => sum.plus(c.realized).plus(c.cost), d(0));
    expect(total.toString()).to.equal("9.99999999");
  });

  it("leaves the book it was given as it was, under every method, when a sale closes lots", () => {
    for (const method of ["FIFO", "LIFO", "HIFO", "AVERAGE"] as const) {
      let book: TaxLot[] = [];
      for (const t of threeBuysThenSale.slice(0, 3)) book = applyLotTrade(book, method, t).lots;
      const before = book.map((l) => ({ ...l }));
      const lots = [...book];
      applyLotTrade(book, method, threeBuysThenSale[3]);
      expect(book, method).to.deep.equal(lots);
      expect(book.map((l) => ({ ...l })), method).to.deep.equal(before);
    }
  });

  it("gives the same lots and P&L with the amount the caller passes (a trade's cash leg) as with its own", () => {
    // The amount is bookSign × delta × price: quantity × price for a long buy, minus it for a long sale.
    const withAmounts = threeBuysThenSale.map((t) => ({ ...t, amount: t.delta.times(t.price) }));
    for (const method of ["FIFO", "LIFO", "HIFO", "AVERAGE"] as const) {
      expect(run(method, withAmounts), method).to.deep.equal(run(method, threeBuysThenSale));
    }
  });
});
