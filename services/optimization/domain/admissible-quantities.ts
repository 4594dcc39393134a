// The set of post-trade quantities one security may end at, described implicitly so that a cheap stock with
// wide drift bounds (millions of admissible lots) costs nothing to represent. All numbers are BigInt
// quantities in units of 10^-quantityScale.
//
//   A = { u ∈ [lo, hi] : (u is a multiple of lot and (u = 0 or |u − current| ≥ minStep))  or  u = current }
//
// [lo, hi] already folds in the drift bounds, u ≥ 0 and the trade-direction mode. `current` is admissible
// whenever it lies in [lo, hi], even off the lot grid, because not trading never needs a lot. `minStep`
// is the smallest quantity change whose notional reaches the minimum trade notional (0 when there is none).
// Closing a position (u = 0) is exempt from that minimum: otherwise a small leftover holding of a security
// that left the model could never be sold, and the whole rebalance would be infeasible because of it.

/** Navigates the admissible post-trade quantities of one security. */
export class AdmissibleQuantities {
  constructor(
    readonly lo: bigint,
    readonly hi: bigint,
    readonly lot: bigint,
    readonly current: bigint,
    readonly minStep: bigint,
  ) {}

  /** True when no quantity at all is admissible. */
  isEmpty(): boolean {
    return this.floor(this.hi) === null;
  }

  /** The largest admissible quantity ≤ x, or null. */
  floor(x: bigint): bigint | null {
    const limit = x < this.hi ? x : this.hi;
    if (limit < this.lo) return null;
    let best: bigint | null = this.current >= this.lo && this.current <= limit ? this.current : null;
    let grid = floorMultiple(limit, this.lot);
    if (this.inHole(grid)) {
      // Every lot multiple strictly between current − minStep and current + minStep is a trade too small
      // to place, so the next candidate below is the last multiple at or under current − minStep.
      grid = floorMultiple(this.current - this.minStep, this.lot);
      if (grid < 0n) grid = 0n;
    }
    if (grid >= this.lo && (best === null || grid > best)) best = grid;
    return best;
  }

  /** The smallest admissible quantity ≥ x, or null. */
  ceil(x: bigint): bigint | null {
    const limit = x > this.lo ? x : this.lo;
    if (limit > this.hi) return null;
    let best: bigint | null = this.current <= this.hi && this.current >= limit ? this.current : null;
    let grid = ceilMultiple(limit, this.lot);
    if (this.inHole(grid)) grid = ceilMultiple(this.current + this.minStep, this.lot);
    if (grid <= this.hi && (best === null || grid < best)) best = grid;
    return best;
  }

  private inHole(u: bigint): boolean {
    if (this.minStep === 0n || u === this.current || u === 0n) return false;
    const distance = u > this.current ? u - this.current : this.current - u;
    return distance < this.minStep;
  }
}

function floorMultiple(x: bigint, step: bigint): bigint {
  const q = x / step;
  return (x % step !== 0n && x < 0n ? q - 1n : q) * step;
}

function ceilMultiple(x: bigint, step: bigint): bigint {
  const q = x / step;
  return (x % step !== 0n && x > 0n ? q + 1n : q) * step;
}
