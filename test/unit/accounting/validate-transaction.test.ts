import { expect } from "chai";
import { validateTransaction, type TransactionInput } from "../../../services/accounting/domain/validate-transaction";

const P = "683b70fda29ee10e8b499648";
const S = "683b6d88a29ee10e8b499643";
const base: TransactionInput = { portfolioId: P, securityId: S, sourceId: "AC1", transactionType: "BUY", quantity: "100", price: "50.25", transactionDate: "20240130" };

function errorsOf(input: Partial<TransactionInput>, index = 0) {
  const result = validateTransaction({ ...base, ...input }, index);
  return result.ok ? [] : result.errors;
}

describe("transaction validation (GlobeCo messages)", () => {
  it("accepts a valid BUY and normalises it", () => {
    const result = validateTransaction(base, 0);
    expect(result.ok).to.equal(true);
    if (result.ok) {
      expect(result.transaction.quantity.toString()).to.equal("100");
      expect(result.transaction.type).to.equal("BUY");
    }
  });

  it("collects every request-field error with the reference's exact messages", () => {
    expect(errorsOf({ portfolioId: "short", securityId: "x", transactionType: "buy", price: "0", transactionDate: "2024-01-30" })).to.deep.equal([
      { field: "portfolioId", message: "must be exactly 24 characters", value: "short" },
      { field: "securityId", message: "must be exactly 24 characters", value: "x" },
      { field: "transactionType", message: "must be one of: BUY, SELL, SHORT, COVER, DEP, WD, IN, OUT", value: "buy" },
      { field: "price", message: "must be positive", value: "0" },
      { field: "transactionDate", message: "must be in YYYYMMDD format", value: "2024-01-30" },
    ]);
  });

  it("rejects a source id over 50 characters", () => {
    expect(errorsOf({ sourceId: "x".repeat(51) })).to.deep.equal([{ field: "sourceId", message: "must not exceed 50 characters", value: "x".repeat(51) }]);
  });

  it("requires a security for trades and forbids one for DEP/WD", () => {
    expect(errorsOf({ securityId: null })).to.deep.equal([{ field: "securityId", message: "is required for non-cash transactions", value: "" }]);
    expect(errorsOf({ transactionType: "DEP", price: "1" })).to.deep.equal([
      { field: "securityId", message: "must be null for DEP/WD transactions", value: S },
    ]);
  });

  it("reports builder errors as one 'transaction' error naming the item's index", () => {
    expect(errorsOf({ quantity: "0" }, 3)).to.deep.equal([
      { field: "transaction", message: "transaction validation failed: [quantity cannot be zero]", value: "index_3" },
    ]);
    expect(errorsOf({ transactionType: "DEP", securityId: null, price: "2" })).to.deep.equal([
      { field: "transaction", message: "transaction validation failed: [cash transactions must have price of 1.0]", value: "index_0" },
    ]);
    expect(errorsOf({ portfolioId: "683b70fda29ee10e8b49964!" })[0].message).to.equal(
      "transaction validation failed: [portfolio ID must contain only alphanumeric characters]",
    );
    expect(errorsOf({ sourceId: "   " })[0].message).to.equal("transaction validation failed: [source ID cannot be empty]");
  });

  it("accepts 1, 1.0 and 1.00000000 as the price of a cash transaction", () => {
    for (const price of ["1", "1.0", "1.00000000"]) {
      expect(validateTransaction({ ...base, transactionType: "WD", securityId: null, price }, 0).ok).to.equal(true);
    }
  });

  it("allows a negative quantity and matches types case-sensitively", () => {
    expect(validateTransaction({ ...base, quantity: "-5" }, 0).ok).to.equal(true);
    expect(errorsOf({ transactionType: "Buy" })[0].field).to.equal("transactionType");
  });

  it("checks the calendar date, not just the digits", () => {
    expect(errorsOf({ transactionDate: "20240230" })[0].message).to.equal("must be in YYYYMMDD format");
    expect(validateTransaction({ ...base, transactionDate: "20240229" }, 0).ok).to.equal(true);
  });

  it("reports a malformed number against its own item", () => {
    expect(errorsOf({ quantity: "12abc" })).to.deep.equal([{ field: "quantity", message: "must be a valid decimal number", value: "12abc" }]);
    expect(errorsOf({ price: "1e2" })).to.deep.equal([{ field: "price", message: "must be a valid decimal number", value: "1e2" }]);
  });

  it("rounds to 8 decimals and refuses values DECIMAL(18,8) cannot hold", () => {
    const result = validateTransaction({ ...base, quantity: "1.123456785" }, 0);
    expect(result.ok && result.transaction.quantity.toString()).to.equal("1.12345679");
    expect(errorsOf({ quantity: "10000000000" })[0].field).to.equal("repository");
  });
});
