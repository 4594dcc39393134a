// How a proposal becomes orders: one MARKET order per leg, sells before buys, each with the deterministic
// idempotency key `<proposal_id>:<leg>`, so submitting a proposal twice creates each order once.
import type Decimal from "decimal.js";
import type { ProposedTrade, TradeSide } from "./build-proposal";

/** One order to submit for a proposal leg. */
export interface LegOrder {
  leg: number;
  idempotencyKey: string;
  side: TradeSide;
  securityId: string;
  quantity: Decimal;
}

/** The idempotency key of a leg. */
export function legIdempotencyKey(proposalId: string, leg: number): string {
  return `${proposalId}:${leg}`;
}

/**
 * Orders for the legs still without an order (`ordered` holds the legs that already have one), sells first.
 * Legs are numbered sells-first already; sorting again makes the order of submission independent of storage.
 */
export function planProposalOrders(proposalId: string, trades: ProposedTrade[], ordered: ReadonlySet<number> = new Set()): { sells: LegOrder[]; buys: LegOrder[] } {
  const pending = trades
    .filter((t) => !ordered.has(t.leg))
    .sort((a, b) => a.leg - b.leg)
    .map((t) => ({ leg: t.leg, idempotencyKey: legIdempotencyKey(proposalId, t.leg), side: t.side, securityId: t.securityId, quantity: t.quantity }));
  return { sells: pending.filter((o) => o.side === "SELL"), buys: pending.filter((o) => o.side === "BUY") };
}
