// ExecuteProposal as a use case: submit every leg without an order yet, sells first, with the key
// `<proposal_id>:<leg>`; record each leg's outcome. Calling it again submits nothing new: legs with an order are
// reported from the record (and the order service would replay the same key anyway).
import type Decimal from "decimal.js";
import { notFound } from "../../platform/errors";
import type { TradeSide } from "./build-proposal";
import type { LegExecution, Proposal } from "./proposal";
import { planProposalOrders, legIdempotencyKey, type LegOrder } from "./proposal-orders";

/** Result of submitting one order: an order id, or the stable error code of the refusal. */
export type SubmitResult = { orderId: string; replayed: boolean } | { errorCode: string; errorMessage: string };

export interface ExecuteDeps {
  proposals: {
    get(proposalId: string): Promise<Proposal | null>;
    recordLegs(proposalId: string, legs: LegExecution[], at: Date): Promise<void>;
  };
  orders: {
    submit(portfolioId: string, order: LegOrder): Promise<SubmitResult>;
    /** Waits up to `timeoutMs` for the orders to stop working (filled, rejected…). */
    waitForFills(orderIds: string[], timeoutMs: number): Promise<void>;
  };
  now(): Date;
}

/** The outcome of one leg of an ExecuteProposal call. */
export interface ExecutedLeg {
  leg: number;
  idempotencyKey: string;
  side: TradeSide;
  securityId: string;
  quantity: Decimal;
  orderId: string;
  replayed: boolean;
  errorCode: string;
  errorMessage: string;
}

/** Submits a proposal's orders (sells, then buys) and returns every leg's outcome in leg order. */
export async function executeProposal(deps: ExecuteDeps, proposalId: string, waitForSellsMs: number): Promise<{ proposal: Proposal; legs: ExecutedLeg[] }> {
  const proposal = await deps.proposals.get(proposalId);
  if (proposal === null) throw notFound("PROPOSAL_NOT_FOUND", `Proposal ${proposalId} not found`, { metadata: { proposal_id: proposalId } });
  const recorded = new Map((proposal.execution?.legs ?? []).filter((l) => l.orderId !== "").map((l) => [l.leg, l]));
  const { sells, buys } = planProposalOrders(proposalId, proposal.trades, new Set(recorded.keys()));

  // One leg at a time, in leg order: the order service reserves cash and quantity per order, and sequential
  // submission keeps "sells before buys" true on its side too.
  const submitAll = async (orders: LegOrder[]) => {
    const done: Array<{ order: LegOrder; result: SubmitResult }> = [];
    for (const order of orders) done.push({ order, result: await deps.orders.submit(proposal.portfolioId, order) });
    return done;
  };
  const sold = await submitAll(sells);
  const sellOrderIds = sold.flatMap(({ result }) => ("orderId" in result ? [result.orderId] : []));
  if (waitForSellsMs > 0 && buys.length > 0 && sellOrderIds.length > 0) await deps.orders.waitForFills(sellOrderIds, waitForSellsMs);
  const bought = await submitAll(buys);

  const fresh = [...sold, ...bought];
  const legs: LegExecution[] = fresh.map(({ order, result }) =>
    "orderId" in result
      ? { leg: order.leg, orderId: result.orderId, errorCode: "", errorMessage: "" }
      : { leg: order.leg, orderId: "", errorCode: result.errorCode, errorMessage: result.errorMessage },
  );
  if (legs.length > 0) await deps.proposals.recordLegs(proposalId, legs, deps.now());

  const freshByLeg = new Map(fresh.map((f) => [f.order.leg, f.result]));
  const executed = proposal.trades.map((trade): ExecutedLeg => {
    const base = { leg: trade.leg, idempotencyKey: legIdempotencyKey(proposalId, trade.leg), side: trade.side, securityId: trade.securityId, quantity: trade.quantity };
    const result = freshByLeg.get(trade.leg);
    if (result === undefined) {
      const earlier = recorded.get(trade.leg)!;
      return { ...base, orderId: earlier.orderId, replayed: true, errorCode: "", errorMessage: "" };
    }
    return "orderId" in result
      ? { ...base, orderId: result.orderId, replayed: result.replayed, errorCode: "", errorMessage: "" }
      : { ...base, orderId: "", replayed: false, errorCode: result.errorCode, errorMessage: result.errorMessage };
  });
  return { proposal, legs: executed };
}
