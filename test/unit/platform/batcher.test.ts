import { expect } from "chai";
import { createBatcher, writeEachKeyOnce } from "../../../services/platform/batcher";

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe("batcher: natural batching of concurrent calls", () => {
  function recording(maxBatch: number, maxInFlight: number) {
    const batches: number[][] = [];
    const gates: (() => void)[] = [];
    const call = createBatcher<number, string>({
      maxBatch,
      maxInFlight,
      async run(items) {
        batches.push(items);
        await new Promise<void>((resolve) => gates.push(resolve));
        return items.map((i) => `r${i}`);
      },
    });
    const openAll = async () => {
      while (gates.length > 0) {
        gates.shift()!();
        await tick();
      }
    };
    return { call, batches, gates, openAll };
  }

  it("sends a lone call at once, and gathers calls that arrive while batches run", async () => {
    const { call, batches, gates, openAll } = recording(10, 1);
    const first = call(1);
    await tick();
    expect(batches).to.deep.equal([[1]]);
    const later = [call(2), call(3), call(4)];
    await tick();
    expect(batches).to.have.length(1); // waiting for the running batch
    gates.shift()!();
    await tick();
    expect(batches).to.deep.equal([[1], [2, 3, 4]]);
    await openAll();
    expect(await first).to.equal("r1");
    expect(await Promise.all(later)).to.deep.equal(["r2", "r3", "r4"]);
  });

  it("keeps at most maxInFlight batches of at most maxBatch items", async () => {
    const { call, batches, openAll } = recording(2, 2);
    const all = Array.from({ length: 7 }, (_, i) => call(i));
    await tick();
    expect(batches).to.deep.equal([[0, 1], [2, 3]]);
    await openAll();
    expect(batches).to.deep.equal([[0, 1], [2, 3], [4, 5], [6]]);
    expect(await Promise.all(all)).to.deep.equal(["r0", "r1", "r2", "r3", "r4", "r5", "r6"]);
  });

  it("fails every item of a batch that fails, and carries on with the next batch", async () => {
    let round = 0;
    const call = createBatcher<number, number>({
      maxBatch: 10,
      maxInFlight: 1,
      async run(items) {
        round++;
        if (round === 1) throw new Error("database gone");
        return items.map((i) => i * 2);
      },
    });
    const failed = [call(1), call(2)];
    const settled = await Promise.allSettled(failed);
    expect(settled.map((s) => s.status)).to.deep.equal(["rejected", "rejected"]);
    expect(await call(5)).to.equal(10);
  });

  it("rejects a batch whose outcomes do not match its items", async () => {
    const call = createBatcher<number, number>({ maxBatch: 10, maxInFlight: 1, run: async () => [] });
    try {
      await call(1);
      expect.fail("should have thrown");
    } catch (error) {
      expect((error as Error).message).to.match(/returned 0 outcomes/);
    }
  });
});

describe("writeEachKeyOnce: one statement per round, a key at most once in each", () => {
  it("writes repeats of a key in later statements, after the first, and answers every item in its place", async () => {
    const statements: string[][] = [];
    const outcomes = await writeEachKeyOnce(["a1", "b1", "a2", "c1", "a3", "b2"], (item) => item[0], async (items) => {
      statements.push(items);
      return items.map((item) => item.toUpperCase());
    });
    expect(statements).to.deep.equal([["a1", "b1", "c1"], ["a2", "b2"], ["a3"]]);
    expect(outcomes).to.deep.equal(["A1", "B1", "A2", "C1", "A3", "B2"].map((value) => ({ ok: true, value })));
  });

  it("retries a failed statement item by item, so only the bad item fails", async () => {
    const outcomes = await writeEachKeyOnce(["x", "bad", "y"], (item) => item, async (items) => {
      if (items.includes("bad")) throw new Error(`cannot write ${items.join(",")}`);
      return items.map((item) => item.length);
    });
    expect(outcomes[0]).to.deep.equal({ ok: true, value: 1 });
    expect(outcomes[2]).to.deep.equal({ ok: true, value: 1 });
    expect(outcomes[1].ok).to.equal(false);
    expect(((outcomes[1] as { error: Error }).error).message).to.equal("cannot write bad");
  });

  it("does not run a failed write of a lone item a second time", async () => {
    const statements: string[][] = [];
    const outcomes = await writeEachKeyOnce(["bad"], (item) => item, async (items) => {
      statements.push(items);
      throw new Error("refused");
    });
    expect(statements).to.deep.equal([["bad"]]);
    expect(outcomes[0].ok).to.equal(false);
    expect(((outcomes[0] as { error: Error }).error).message).to.equal("refused");
  });
});

