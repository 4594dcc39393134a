// Turns a portfolio snapshot (accounting), prices and lots (market data) and a model into the solver's plain
// problem: the union of held and model securities, where a held security outside the model has target 0
// and a zero band, so it is sold (within the mode).
import Decimal from "decimal.js";
import type { ModelPosition } from "./investment-model";
import { missingPrice } from "./optimization-error";
import type { RebalanceMode, RebalanceProblem } from "./rebalance-problem";

/** Cash and holdings of one portfolio. */
export interface PortfolioSnapshot {
  cash: Decimal;
  holdings: Array<{ securityId: string; quantity: Decimal }>;
}

/** Rebalance options with server defaults already filled in. */
export interface RebalanceSettings {
  minCash: Decimal;
  minTradeNotional: Decimal;
  mode: RebalanceMode;
  onlyOutOfBand: boolean;
  /** When false every lot is 1 unit (whole shares). */
  useLotSize: boolean;
  nodeLimit?: number;
}

/** Builds the solver input; FAILED_PRECONDITION MISSING_PRICE names every security without a price. */
export function buildRebalanceProblem(
  snapshot: PortfolioSnapshot,
  positions: ModelPosition[],
  prices: ReadonlyMap<string, Decimal>,
  lotSizes: ReadonlyMap<string, Decimal>,
  settings: RebalanceSettings,
): RebalanceProblem {
  const held = new Map<string, Decimal>();
  for (const h of snapshot.holdings) held.set(h.securityId, (held.get(h.securityId) ?? new Decimal(0)).plus(h.quantity));
  const inModel = new Set(positions.map((p) => p.securityId));
  const outside = [...held.keys()].filter((id) => !inModel.has(id) && !held.get(id)!.isZero()).sort();
  const rows = [
    ...positions.map((p) => ({ securityId: p.securityId, target: p.target, lowDrift: p.lowDrift, highDrift: p.highDrift })),
    ...outside.map((securityId) => ({ securityId, target: new Decimal(0), lowDrift: new Decimal(0), highDrift: new Decimal(0) })),
  ];
  const unpriced = rows.map((r) => r.securityId).filter((id) => !prices.has(id));
  if (unpriced.length > 0) throw missingPrice(unpriced);
  return {
    cash: snapshot.cash.toFixed(),
    securities: rows.map((r) => ({
      securityId: r.securityId,
      quantity: (held.get(r.securityId) ?? new Decimal(0)).toFixed(),
      price: prices.get(r.securityId)!.toFixed(),
      target: r.target.toFixed(),
      lowDrift: r.lowDrift.toFixed(),
      highDrift: r.highDrift.toFixed(),
      lotSize: settings.useLotSize ? (lotSizes.get(r.securityId) ?? new Decimal(1)).toFixed() : "1",
    })),
    options: {
      minCash: settings.minCash.toFixed(),
      minTradeNotional: settings.minTradeNotional.toFixed(),
      mode: settings.mode,
      onlyOutOfBand: settings.onlyOutOfBand,
      ...(settings.nodeLimit === undefined ? {} : { nodeLimit: settings.nodeLimit }),
    },
  };
}
