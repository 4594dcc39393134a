import { expect } from "chai";
import { fingerprintOf, replayOrderId } from "../../../services/orders/domain/idempotency-fingerprint";
import { OrderError } from "../../../services/orders/domain/order-error";
import { parseSubmitCommand } from "../../../services/orders/domain/submit-command";
import { input } from "./fixtures";

describe("orders domain: idempotency fingerprint", () => {
  it("gives the same fingerprint to the same order written differently", () => {
    const a = fingerprintOf(parseSubmitCommand(input({ symbol: "aapl", quantity: "10.0", timeInForce: "" })));
    const b = fingerprintOf(parseSubmitCommand(input({ symbol: "AAPL", quantity: "10", timeInForce: "DAY" })));
    expect(a).to.equal(b);
    expect(a).to.match(/^[0-9a-f]{64}$/);
  });

  it("ignores the idempotency key itself", () => {
    expect(fingerprintOf(parseSubmitCommand(input({ idempotencyKey: "a" })))).to.equal(
      fingerprintOf(parseSubmitCommand(input({ idempotencyKey: "b" }))),
    );
  });

  it("changes with every field that changes the order", () => {
    const base = fingerprintOf(parseSubmitCommand(input()));
    const variants = [
      input({ quantity: "11" }),
      input({ side: "SELL" }),
      input({ symbol: "MSFT" }),
      input({ timeInForce: "IOC" }),
      input({ type: "LIMIT", limitPrice: "100" }),
      input({ portfolioId: "p00000000000000000000009" }),
    ];
    for (const variant of variants) expect(fingerprintOf(parseSubmitCommand(variant))).not.to.equal(base);
  });

  it("replays the original order for the same payload and refuses a different one as IDEMPOTENCY_KEY_REUSED", () => {
    const stored = { fingerprint: "f1", orderId: "order-1" };
    expect(replayOrderId(stored, "f1")).to.equal("order-1");
    try {
      replayOrderId(stored, "f2");
      expect.fail("expected a throw");
    } catch (error) {
      expect(error).to.be.instanceOf(OrderError);
      expect((error as OrderError).code).to.equal("IDEMPOTENCY_KEY_REUSED");
    }
  });
});
