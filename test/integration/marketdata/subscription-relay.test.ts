import { expect } from "chai";
import { createSubscriptionRelay } from "../../../services/marketdata/adapters/subscription-relay";
import { isDomainError } from "../../../services/platform/errors";
import { createRedisPubSub } from "../../../services/platform/pubsub-redis";
import { createRequestReplyBus } from "../../../services/platform/request-reply";

// What an UpdateSubscription reaching an instance without the stream answers when the instances cannot talk to each
// other: a retryable UNAVAILABLE, never a NOT_FOUND that would tell the caller its running stream is gone.
describe("market data subscription relay without Redis", function () {
  this.timeout(20_000);

  it("answers UNAVAILABLE STREAM_ROUTING_UNAVAILABLE with a retry delay when Redis cannot be reached", async () => {
    // Port 1 on loopback: nothing listens, every connection attempt is refused.
    const bus = createRequestReplyBus(createRedisPubSub({ url: "redis://127.0.0.1:1", commandTimeoutMs: 200 }));
    const relay = createSubscriptionRelay(bus, { timeoutMs: 60_000 });
    try {
      const startedAt = Date.now();
      const error = await relay
        .updateSubscription({ callerId: "alice", streamId: "7d8f6a5e-0000-4000-8000-000000000000", add: ["AAPL"], remove: [] })
        .then(() => undefined, (reason: unknown) => reason);
      expect(isDomainError(error), String(error)).to.equal(true);
      expect(error).to.include({ kind: "unavailable", code: "STREAM_ROUTING_UNAVAILABLE", retryAfterMs: 1_000 });
      // Well before the 60 s forward timeout: an unreachable bus fails fast instead of looking like silent instances.
      expect(Date.now() - startedAt).to.be.below(10_000);
    } finally {
      await bus.close();
    }
  });
});
