import { expect } from "chai";
import { OrderError } from "../../../services/orders/domain/order-error";
import { parseSubmitCommand } from "../../../services/orders/domain/submit-command";
import { input } from "./fixtures";

function violationsOf(fn: () => unknown): { code: string; messages: string[] } {
  try {
    fn();
  } catch (error) {
    if (error instanceof OrderError) return { code: error.code, messages: error.fieldViolations.map((v) => v.description) };
    throw error;
  }
  throw new Error("expected an OrderError");
}

describe("orders domain: submit command checks", () => {
  it("accepts a market buy, upper-cases the symbol and defaults time in force to DAY", () => {
    const command = parseSubmitCommand(input({ symbol: " aapl ", timeInForce: "" }));
    expect(command.symbol).to.equal("AAPL");
    expect(command.timeInForce).to.equal("DAY");
    expect(command.quantity?.toFixed()).to.equal("10");
    expect(command.limitPrice).to.equal(null);
  });

  it("requires a price on LIMIT orders with the reference message", () => {
    const result = violationsOf(() => parseSubmitCommand(input({ type: "LIMIT" })));
    expect(result.code).to.equal("INVALID_ORDER");
    expect(result.messages).to.include("LIMIT orders require a price");
  });

  it("requires both prices on STOP_LIMIT orders", () => {
    const result = violationsOf(() => parseSubmitCommand(input({ type: "STOP_LIMIT" })));
    expect(result.messages).to.include.members(["STOP_LIMIT orders require a price", "STOP_LIMIT orders require a stop price"]);
  });

  it("refuses a price on a market order", () => {
    const result = violationsOf(() => parseSubmitCommand(input({ limitPrice: "100" })));
    expect(result.messages).to.deep.equal(["market orders cannot have a price"]);
  });

  it("refuses zero and negative quantities and prices with the reference messages", () => {
    expect(violationsOf(() => parseSubmitCommand(input({ quantity: "0" }))).messages).to.deep.equal([
      "quantity must be positive",
    ]);
    expect(violationsOf(() => parseSubmitCommand(input({ type: "LIMIT", limitPrice: "-1" }))).messages).to.deep.equal([
      "price must be positive",
    ]);
  });

  it("refuses numbers that are not plain decimal strings", () => {
    for (const bad of ["1e3", "abc", "1.2.3", "0x10", " 1 0"]) {
      const result = violationsOf(() => parseSubmitCommand(input({ quantity: bad })));
      expect(result.messages[0], bad).to.match(/must be a decimal number/);
    }
  });

  it("accepts notional only on market buys and never together with a quantity", () => {
    expect(parseSubmitCommand(input({ quantity: "", notional: "250.50" })).notional?.toFixed()).to.equal("250.5");
    expect(violationsOf(() => parseSubmitCommand(input({ notional: "10" }))).messages).to.include(
      "quantity and notional are mutually exclusive",
    );
    expect(
      violationsOf(() => parseSubmitCommand(input({ side: "SELL", quantity: "", notional: "10" }))).messages,
    ).to.include("notional is only accepted for market buy orders");
  });

  it("reports every missing field at once", () => {
    const result = violationsOf(() =>
      parseSubmitCommand({ portfolioId: "", idempotencyKey: "", symbol: "", side: "", type: "", quantity: "" }),
    );
    expect(result.messages).to.include.members([
      "portfolio_id is required",
      "idempotency_key is required",
      "symbol is required",
      "order_side is required",
      "order_type is required",
      "quantity is required",
    ]);
  });

  it("refuses idempotency keys with spaces or longer than 128 characters", () => {
    expect(violationsOf(() => parseSubmitCommand(input({ idempotencyKey: "a b" }))).messages[0]).to.match(/idempotency_key/);
    expect(violationsOf(() => parseSubmitCommand(input({ idempotencyKey: "k".repeat(129) }))).messages[0]).to.match(
      /idempotency_key/,
    );
    expect(parseSubmitCommand(input({ idempotencyKey: "k".repeat(128) })).idempotencyKey).to.have.length(128);
  });

  it("names the instrument by exactly one of symbol and security_id", () => {
    const bySecurity = parseSubmitCommand(input({ symbol: "", securityId: "s0000000000000000000aapl" }));
    expect(bySecurity.securityId).to.equal("s0000000000000000000aapl");
    expect(violationsOf(() => parseSubmitCommand(input({ securityId: "s0000000000000000000aapl" }))).messages).to.include(
      "give either symbol or security_id, not both",
    );
  });

  it("refuses portfolio ids that are not 24 alphanumeric characters", () => {
    expect(violationsOf(() => parseSubmitCommand(input({ portfolioId: "p1" }))).messages).to.deep.equal([
      "portfolio_id must be 24 alphanumeric characters",
    ]);
  });

  it("refuses GTC market orders and notional with more than 2 decimals", () => {
    expect(violationsOf(() => parseSubmitCommand(input({ timeInForce: "GTC" }))).messages).to.deep.equal([
      "market orders accept DAY, IOC or FOK",
    ]);
    expect(violationsOf(() => parseSubmitCommand(input({ quantity: "", notional: "10.005" }))).messages).to.deep.equal([
      "notional has at most 2 decimals",
    ]);
  });

  it("refuses unknown sides, types and times in force", () => {
    const result = violationsOf(() => parseSubmitCommand(input({ side: "SHORT", type: "TRAILING", timeInForce: "OPG" })));
    expect(result.messages).to.deep.equal([
      "invalid order_side: SHORT",
      "invalid order_type: TRAILING",
      "invalid time_in_force: OPG",
    ]);
  });
});
