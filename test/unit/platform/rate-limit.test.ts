import { expect } from "chai";
import { createRateLimiter } from "../../../services/platform/rate-limit";

describe("platform rate limiter", () => {
  it("allows a burst, then one call per refill interval, and says how long to wait", () => {
    const limiter = createRateLimiter({ ratePerSecond: 10, burst: 3 });
    const t0 = 1_000;
    expect([1, 2, 3].map(() => limiter.take("alice", t0).allowed)).to.deep.equal([true, true, true]);
    const refused = limiter.take("alice", t0);
    expect(refused).to.deep.equal({ allowed: false, retryAfterMs: 100 });
    expect(limiter.take("alice", t0 + 60)).to.deep.equal({ allowed: false, retryAfterMs: 40 });
    expect(limiter.take("alice", t0 + 100).allowed).to.equal(true);
  });

  it("keeps one bucket per principal", () => {
    const limiter = createRateLimiter({ ratePerSecond: 1, burst: 1 });
    expect(limiter.take("alice", 0).allowed).to.equal(true);
    expect(limiter.take("alice", 0).allowed).to.equal(false);
    expect(limiter.take("bob", 0).allowed).to.equal(true);
  });

  it("never refills beyond the burst", () => {
    const limiter = createRateLimiter({ ratePerSecond: 100, burst: 2 });
    limiter.take("a", 0);
    const afterIdle = [1, 2, 3].map(() => limiter.take("a", 60_000).allowed);
    expect(afterIdle).to.deep.equal([true, true, false]);
  });

  it("bounds the number of tracked principals by evicting the least recently used", () => {
    const limiter = createRateLimiter({ ratePerSecond: 1, burst: 1, maxPrincipals: 2 });
    limiter.take("a", 0);
    limiter.take("b", 0);
    limiter.take("a", 0); // a is now the most recent, b the idlest
    limiter.take("c", 0);
    expect(limiter.size).to.equal(2);
    expect(limiter.take("a", 0).allowed).to.equal(false); // a kept its empty bucket
    expect(limiter.take("b", 0).allowed).to.equal(true); // b was evicted and starts full
  });

  it("turns off with a rate of zero", () => {
    const limiter = createRateLimiter({ ratePerSecond: 0, burst: 1 });
    expect([1, 2, 3].every(() => limiter.take("a").allowed)).to.equal(true);
  });
});
