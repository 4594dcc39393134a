// The rebalancing problem as plain, structured-clone-safe data (strings, numbers, booleans), so that the
// same object can be solved in-process or posted to a worker thread unchanged.

/** Which directions of trade a rebalance may use. */
export type RebalanceMode = "FULL" | "BUY_ONLY" | "SELL_ONLY";

/** One security of the union "held ∪ model", with everything the solver needs about it. */
export interface SecurityInput {
  securityId: string;
  /** Current holding in units (decimal string); may be fractional. */
  quantity: string;
  /** Price per unit in portfolio currency (decimal string, > 0). */
  price: string;
  /** Target weight as a fraction of MV ("0" for a held security outside the model). */
  target: string;
  /** Allowed drift below the target, as a fraction of MV. */
  lowDrift: string;
  /** Allowed drift above the target, as a fraction of MV. */
  highDrift: string;
  /** Trading lot in units (decimal string, > 0): post-trade quantities are multiples of it unless untouched. */
  lotSize: string;
}

/** Options beyond the reference's formulation. */
export interface RebalanceOptions {
  /** Cash left after all trades must be ≥ this amount (currency, decimal string ≥ 0). */
  minCash: string;
  /** A trade whose notional |Δ|·price is below this is not allowed (currency, decimal string ≥ 0). */
  minTradeNotional: string;
  mode: RebalanceMode;
  /** When true, a security currently inside its drift band is not traded. */
  onlyOutOfBand: boolean;
  /** Search-node budget of the branch and bound before it gives up proving optimality. */
  nodeLimit?: number;
  /** Wall-time budget of the branch and bound in milliseconds (checked every few hundred nodes). */
  timeLimitMs?: number;
}

/** Input of `solveRebalance`. */
export interface RebalanceProblem {
  /** Cash balance in portfolio currency (decimal string, may be negative). */
  cash: string;
  securities: SecurityInput[];
  options: RebalanceOptions;
}

/** How the optimum was found. */
export type SolveMethod = "SEPARABLE" | "BRANCH_AND_BOUND";

/** Output of `solveRebalance`; all amounts are decimal strings. */
export interface RebalanceSolution {
  /** Post-trade quantity per security, in the order of `problem.securities`. */
  quantities: string[];
  /** Σ |MV·t_i − u_i·p_i| at the solution (currency). */
  objective: string;
  /** Cash + Σ quantity·price before trading. */
  marketValue: string;
  cashBefore: string;
  cashAfter: string;
  /** True when the cash minimum changed the answer (the separable optimum would have broken it). */
  cashBinding: boolean;
  method: SolveMethod;
  /** True when optimality is proven; false only if the branch and bound hit its node or time budget. */
  proven: boolean;
  /** Proven lower bound on the objective (equals `objective` when proven). */
  lowerBound: string;
  /** Branch-and-bound nodes explored (0 for the separable case). */
  nodes: number;
}
