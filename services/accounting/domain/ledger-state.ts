import Decimal from "decimal.js";
import { DEFAULT_COST_BASIS_METHOD, type BookSide, type CostBasisMethod, type TaxLot } from "./tax-lots";

/** One balance row: the cash row has securityId null and keeps cash in quantityLong (quantityShort stays 0). */
export interface BalanceRow {
  portfolioId: string;
  securityId: string | null;
  quantityLong: Decimal;
  quantityShort: Decimal;
  /** 1 when created, +1 on every update (the reference's optimistic version). */
  version: number;
}

/**
 * The slice of the ledger a batch works on: the balance rows, lot books and cost-basis methods of the
 * portfolios it touches. Adapters load it, the domain mutates it in memory in request order, and the touched
 * keys tell the adapter what to write back in one set-based statement per table.
 */
export interface LedgerState {
  balances: Map<string, BalanceRow>;
  lots: Map<string, TaxLot[]>;
  methods: Map<string, CostBasisMethod>;
  touchedBalances: Set<string>;
  touchedBooks: Set<string>;
}

/** An empty working set. */
export function createLedgerState(): LedgerState {
  return { balances: new Map(), lots: new Map(), methods: new Map(), touchedBalances: new Set(), touchedBooks: new Set() };
}

/** Map key of a balance row ("" stands for the cash row's NULL security). */
export function balanceKey(portfolioId: string, securityId: string | null): string {
  return `${portfolioId}|${securityId ?? ""}`;
}

/** Map key of a lot book. */
export function bookKey(portfolioId: string, securityId: string, side: BookSide): string {
  return `${portfolioId}|${securityId}|${side}`;
}

/** Splits a book key back into its parts. */
export function parseBookKey(key: string): { portfolioId: string; securityId: string; side: BookSide } {
  const [portfolioId, securityId, side] = key.split("|");
  return { portfolioId, securityId, side: side as BookSide };
}

/** The method a portfolio uses, FIFO until it chooses another. */
export function methodOf(state: LedgerState, portfolioId: string): CostBasisMethod {
  return state.methods.get(portfolioId) ?? DEFAULT_COST_BASIS_METHOD;
}
