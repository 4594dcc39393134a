import { expect } from "chai";
import { OrderError } from "../../../services/orders/domain/order-error";
import { ORDER_STATUSES } from "../../../services/orders/domain/order";
import {
  canTransition,
  eventTypeOf,
  fillIdOf,
  isTerminal,
  ORDER_TRANSITIONS,
  transition,
  transitionAll,
} from "../../../services/orders/domain/order-state-machine";
import { d, NOW, pendingOrder } from "./fixtures";

const LATER = new Date(NOW.getTime() + 1000);

describe("orders domain: order state machine", () => {
  it("publishes the transition table of orders.proto", () => {
    expect(ORDER_TRANSITIONS).to.deep.equal({
      PENDING_NEW: ["NEW", "PARTIALLY_FILLED", "FILLED", "CANCELED", "REJECTED", "EXPIRED"],
      NEW: ["PARTIALLY_FILLED", "FILLED", "CANCELED", "EXPIRED"],
      PARTIALLY_FILLED: ["PARTIALLY_FILLED", "FILLED", "CANCELED", "EXPIRED"],
      FILLED: [],
      CANCELED: [],
      REJECTED: [],
      EXPIRED: [],
    });
    expect(ORDER_STATUSES.filter(isTerminal)).to.deep.equal(["FILLED", "CANCELED", "REJECTED", "EXPIRED"]);
  });

  it("never lets an order move backwards or out of a terminal state", () => {
    expect(canTransition("NEW", "PENDING_NEW")).to.equal(false);
    expect(canTransition("NEW", "REJECTED")).to.equal(false);
    for (const terminal of ["FILLED", "CANCELED", "REJECTED", "EXPIRED"] as const) {
      for (const to of ORDER_STATUSES) expect(canTransition(terminal, to)).to.equal(false);
    }
  });

  it("starts a submitted order at version 1 in PENDING_NEW", () => {
    const order = pendingOrder();
    expect(order.status).to.equal("PENDING_NEW");
    expect(order.version).to.equal(1);
    expect(order.lastReason).to.equal("SUBMITTED");
  });

  it("bumps the version by one per event and records from, to and the reason", () => {
    const { order, events } = transitionAll(pendingOrder(), [
      { to: "NEW", reason: "RESTING", at: LATER },
      { to: "CANCELED", reason: "USER_REQUESTED", at: LATER },
    ]);
    expect(order.version).to.equal(3);
    expect(order.status).to.equal("CANCELED");
    expect(order.doneAt).to.deep.equal(LATER);
    expect(events.map((e) => [e.orderVersion, e.fromStatus, e.toStatus, e.reason])).to.deep.equal([
      [2, "PENDING_NEW", "NEW", "RESTING"],
      [3, "NEW", "CANCELED", "USER_REQUESTED"],
    ]);
    expect(events.map(eventTypeOf)).to.deep.equal(["ACCEPTED", "CANCELED"]);
  });

  it("accumulates fills into the filled quantity and amount", () => {
    const { order, events } = transitionAll(pendingOrder(), [
      { to: "PARTIALLY_FILLED", reason: "PARTIAL_LIQUIDITY", at: LATER, fill: { quantity: d(4), price: d("100.05") } },
      { to: "FILLED", reason: "MARKETABLE", at: LATER, fill: { quantity: d(6), price: d("100.10") } },
    ]);
    expect(order.filledQuantity.toFixed()).to.equal("10");
    expect(order.filledAmount.toFixed()).to.equal("1000.8");
    expect(events[0].fill?.amount.toFixed()).to.equal("400.2");
    expect(events[1].fill?.securityId).to.equal(order.securityId);
    expect(events.map(eventTypeOf)).to.deep.equal(["FILLED", "FILLED"]);
  });

  it("refuses a fill larger than the remaining quantity", () => {
    expect(() =>
      transition(pendingOrder(), { to: "FILLED", reason: "MARKETABLE", at: LATER, fill: { quantity: d(11), price: d(100) } }),
    ).to.throw(OrderError, /does not fit/);
  });

  it("throws INVALID_TRANSITION for a transition the table forbids", () => {
    const filled = transition(pendingOrder(), {
      to: "FILLED",
      reason: "MARKETABLE",
      at: LATER,
      fill: { quantity: d(10), price: d(100) },
    }).order;
    try {
      transition(filled, { to: "CANCELED", reason: "USER_REQUESTED", at: LATER });
      expect.fail("expected a throw");
    } catch (error) {
      expect((error as OrderError).code).to.equal("INVALID_TRANSITION");
    }
  });

  it("derives the same UUID fill id for the same order version, and different ones otherwise", () => {
    const id = fillIdOf("order-a", 2);
    expect(id).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(fillIdOf("order-a", 2)).to.equal(id);
    expect(fillIdOf("order-a", 3)).not.to.equal(id);
    expect(fillIdOf("order-b", 2)).not.to.equal(id);
  });
});
