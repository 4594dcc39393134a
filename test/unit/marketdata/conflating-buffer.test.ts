import { expect } from "chai";
import { ConflatingBuffer } from "../../../services/marketdata/domain/conflating-buffer";

interface Item {
  readonly symbol: string;
  readonly seq: number;
}
const item = (symbol: string, seq: number): Item => ({ symbol, seq });

/** "A2" for an update sent as is, "A9(-3)" for one that replaced three older unsent updates. */
function drain(buffer: ConflatingBuffer<Item>): string[] {
  const out: string[] = [];
  for (let next = buffer.shift(); next; next = buffer.shift()) {
    out.push(`${next.item.symbol}${next.item.seq}${next.droppedBefore > 0 ? `(-${next.droppedBefore})` : ""}`);
  }
  return out;
}

describe("marketdata conflating buffer", () => {
  it("keeps every update in order while there is room", () => {
    const buffer = new ConflatingBuffer<Item>(4);
    buffer.push(item("A", 1));
    buffer.push(item("B", 1));
    buffer.push(item("A", 2));
    expect(drain(buffer)).to.deep.equal(["A1", "B1", "A2"]);
  });

  it("when full, replaces the newest unsent update of the same symbol in place and says how many it replaced", () => {
    const buffer = new ConflatingBuffer<Item>(3);
    buffer.push(item("A", 1));
    buffer.push(item("B", 1));
    buffer.push(item("A", 2));
    buffer.push(item("A", 3));
    buffer.push(item("A", 4));
    buffer.push(item("B", 2));
    expect(buffer.size).to.equal(3);
    expect(drain(buffer)).to.deep.equal(["A1", "B2(-1)", "A4(-2)"]);
  });

  it("when full of one busy symbol, folds it down to its newest update to make room for a quiet one", () => {
    const buffer = new ConflatingBuffer<Item>(3);
    for (let seq = 1; seq <= 3; seq += 1) buffer.push(item("A", seq));
    buffer.push(item("B", 1));
    expect(drain(buffer)).to.deep.equal(["A3(-2)", "B1"]);
  });

  it("never holds more than its capacity however many updates a stalled consumer leaves unsent, and loses no count", () => {
    const buffer = new ConflatingBuffer<Item>(8);
    const symbols = ["A", "B", "C", "D", "E"];
    const newestBySymbol = new Map<string, number>();
    for (let seq = 1; seq <= 10_000; seq += 1) {
      const symbol = symbols[seq % symbols.length]!;
      buffer.push(item(symbol, seq));
      newestBySymbol.set(symbol, seq);
      expect(buffer.size).to.be.at.most(8);
    }
    let delivered = 0;
    let replaced = 0;
    const kept: string[] = [];
    for (let next = buffer.shift(); next; next = buffer.shift()) {
      delivered += 1;
      replaced += next.droppedBefore;
      kept.push(`${next.item.symbol}${next.item.seq}`);
    }
    expect(delivered + replaced).to.equal(10_000);
    for (const [symbol, newest] of newestBySymbol) expect(kept).to.include(`${symbol}${newest}`);
  });

  it("gives up the oldest update only when there are more symbols than capacity, and reports it separately", () => {
    const buffer = new ConflatingBuffer<Item>(2);
    buffer.push(item("A", 1));
    buffer.push(item("B", 1));
    buffer.push(item("C", 1));
    expect([...(buffer.takeOrphanDrops() ?? [])]).to.deep.equal([["A", 1]]);
    expect(buffer.takeOrphanDrops()).to.equal(undefined);
    expect(drain(buffer)).to.deep.equal(["B1", "C1"]);
  });

  it("forgets an unsubscribed symbol's updates without counting them as dropped", () => {
    const buffer = new ConflatingBuffer<Item>(4);
    buffer.push(item("A", 1));
    buffer.push(item("B", 1));
    buffer.push(item("A", 2));
    buffer.removeSymbol("A");
    buffer.push(item("C", 1));
    expect(drain(buffer)).to.deep.equal(["B1", "C1"]);
    expect(buffer.takeOrphanDrops()).to.equal(undefined);
  });

  it("keeps conflating correctly after some updates were sent", () => {
    const buffer = new ConflatingBuffer<Item>(2);
    buffer.push(item("A", 1));
    buffer.push(item("A", 2));
    expect(buffer.shift()).to.deep.equal({ item: item("A", 1), droppedBefore: 0 });
    buffer.push(item("A", 3));
    buffer.push(item("A", 4));
    expect(drain(buffer)).to.deep.equal(["A2", "A4(-1)"]);
  });

  it("refuses a capacity below one", () => {
    expect(() => new ConflatingBuffer<Item>(0)).to.throw(RangeError);
  });
});
