import { expect } from "chai";
import Decimal from "decimal.js";
import { AccountingError } from "../../../services/accounting/domain/accounting-error";
import {
  checkDailyLimit,
  checkWithdrawable,
  DEFAULT_DAILY_CASH_LIMITS,
  utcDayStart,
  validateCashAmount,
} from "../../../services/accounting/domain/cash-movements";
import { consumeReservation, openReservation, releaseReservation, remainingOf } from "../../../services/accounting/domain/reservation";

const d = (v: string | number) => new Decimal(v);
const now = new Date("2025-07-01T12:00:00Z");

function failure(fn: () => unknown): AccountingError {
  try {
    fn();
  } catch (error) {
    if (error instanceof AccountingError) return error;
    throw error;
  }
  throw new Error("expected an AccountingError");
}

describe("cash movement rules (CNOP)", () => {
  it("accepts amounts in (0, 1,000,000] with at most 2 decimals", () => {
    expect(validateCashAmount("1000000").toString()).to.equal("1000000");
    expect(validateCashAmount("0.01").toString()).to.equal("0.01");
  });

  it("rejects amounts out of range or too precise with CNOP's messages", () => {
    expect(failure(() => validateCashAmount("0")).message).to.equal("Amount must be greater than 0");
    expect(failure(() => validateCashAmount("-5")).message).to.equal("Amount must be greater than 0");
    expect(failure(() => validateCashAmount("1000000.01")).message).to.equal("Amount cannot exceed 1,000,000");
    expect(failure(() => validateCashAmount("1.001")).message).to.equal("Amount cannot have more than 2 decimal places");
    expect(failure(() => validateCashAmount("1.001")).fieldViolations[0].field).to.equal("amount");
  });

  it("takes only plain decimals, as common.proto defines them: no exponent, no bare point", () => {
    for (const amount of ["1e3", "1E3", "5.", ".5", "0x10", "1,000"]) {
      const error = failure(() => validateCashAmount(amount));
      expect(error.message, amount).to.equal("Amount must be a decimal number");
      expect(error.fieldViolations[0].field, amount).to.equal("amount");
    }
    expect(validateCashAmount(" 12.50 ").toFixed()).to.equal("12.5");
  });

  it("allows reaching the daily deposit limit exactly and refuses one cent more", () => {
    expect(() => checkDailyLimit("DEPOSIT", d(9000), d(1000), DEFAULT_DAILY_CASH_LIMITS)).not.to.throw();
    const error = failure(() => checkDailyLimit("DEPOSIT", d(9000), d("1000.01"), DEFAULT_DAILY_CASH_LIMITS));
    expect(error.code).to.equal("DAILY_LIMIT_EXCEEDED");
    expect(error.message).to.equal(
      "Daily deposit limit exceeded. Limit: $10,000.00, Already deposited today: $9,000.00, Requested: $1,000.01. Try again tomorrow.",
    );
  });

  it("applies the withdrawal limit of 5,000 by default", () => {
    const error = failure(() => checkDailyLimit("WITHDRAWAL", d(4000), d(1500), DEFAULT_DAILY_CASH_LIMITS));
    expect(error.message).to.match(/^Daily withdrawal limit exceeded\. Limit: \$5,000\.00, Already withdrawn today: \$4,000\.00/);
  });

  it("refuses to withdraw more than the available cash", () => {
    const error = failure(() => checkWithdrawable(d(100), d("150.50")));
    expect(error.code).to.equal("INSUFFICIENT_FUNDS");
    expect(error.message).to.equal(
      "Insufficient balance for withdrawal. Current balance: $100.00, Required amount: $150.50, Shortfall: $50.50. Please deposit additional funds or reduce withdrawal amount.",
    );
  });

  it("counts the day in UTC", () => {
    expect(utcDayStart(new Date("2025-07-01T23:59:59-05:00")).toISOString()).to.equal("2025-07-02T00:00:00.000Z");
  });
});

describe("reservations", () => {
  const request = { reservationId: "r1", orderId: "o1", portfolioId: "p".repeat(24), securityId: null, amount: d(600) };

  it("opens a hold only within the available amount", () => {
    expect(openReservation(request, d(600), now).status).to.equal("OPEN");
    const error = failure(() => openReservation(request, d("599.99"), now));
    expect(error.code).to.equal("INSUFFICIENT_FUNDS");
    expect(failure(() => openReservation({ ...request, securityId: "s".repeat(24) }, d(1), now)).code).to.equal("INSUFFICIENT_POSITION");
  });

  it("a partial fill keeps the hold open with the rest; the last fill consumes it", () => {
    const open = openReservation(request, d(1000), now);
    const first = consumeReservation(open, d(200), now);
    expect(first.reservation.status).to.equal("OPEN");
    expect(remainingOf(first.reservation).toString()).to.equal("400");
    const second = consumeReservation(first.reservation, d(450), now);
    expect(second.reservation.status).to.equal("CONSUMED");
    expect(second.fromHold.toString()).to.equal("400");
    expect(second.excess.toString()).to.equal("50");
  });

  it("release frees the remainder and is a no-op when repeated", () => {
    const open = consumeReservation(openReservation(request, d(1000), now), d(100), now).reservation;
    const released = releaseReservation(open, now);
    expect(released.status).to.equal("RELEASED");
    expect(remainingOf(released).toString()).to.equal("0");
    expect(released.released.toString()).to.equal("500");
    expect(releaseReservation(released, now)).to.equal(released);
  });
});
