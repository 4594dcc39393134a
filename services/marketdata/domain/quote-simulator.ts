import Decimal from "decimal.js";
import type { Instrument } from "./instrument";
import type { Quote } from "./quote";
import { isSameUtcDay } from "./quote";

/** A seeded uniform generator on [0, 1) (mulberry32): the same seed replays the same feed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function hashSymbol(symbol: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < symbol.length; index += 1) hash = Math.imul(hash ^ symbol.charCodeAt(index), 0x01000193) >>> 0;
  return hash;
}

export interface QuoteSimulatorOptions {
  readonly seed: number;
  /** Standard deviation of one step's relative price move, e.g. 0.0005 = 5 basis points. */
  readonly volatilityPerStep: number;
  /** Widest half-spread in ticks; each step picks 1..this. */
  readonly maxHalfSpreadTicks: number;
}

interface WalkState {
  readonly instrument: Instrument;
  readonly random: () => number;
  last: Decimal;
  volume: Decimal;
  lastTimeMs: number;
}

/**
 * Seeded random walk of quotes. Each symbol has its own generator derived from the seed, so its
 * path does not depend on how other symbols' steps interleave. Prices stay on the tick grid
 * (rounded half-even) and never fall below a floor that keeps the bid at one tick or more.
 */
export class QuoteSimulator {
  private readonly walks = new Map<string, WalkState>();

  /**
   * `startPrices` continues each walk from the last known price (after a restart); symbols without
   * one start at their reference price.
   */
  constructor(
    instruments: readonly Instrument[],
    private readonly options: QuoteSimulatorOptions,
    startPrices: ReadonlyMap<string, Decimal> = new Map(),
  ) {
    for (const instrument of instruments) {
      const start = startPrices.get(instrument.symbol) ?? instrument.referencePrice;
      this.walks.set(instrument.symbol, {
        instrument,
        random: seededRandom(options.seed ^ hashSymbol(instrument.symbol)),
        last: start.toNearest(instrument.tickSize, Decimal.ROUND_HALF_EVEN),
        volume: new Decimal(0),
        lastTimeMs: Number.NEGATIVE_INFINITY,
      });
    }
  }

  get symbols(): string[] {
    return [...this.walks.keys()];
  }

  /** Advance one symbol by one step and return the resulting tick, stamped `nowMs` (or 1 ms after its previous tick). */
  step(symbol: string, nowMs: number): Quote {
    const walk = this.walks.get(symbol);
    if (!walk) throw new RangeError(`the simulator does not know ${symbol}`);
    const { instrument, random } = walk;
    const tick = instrument.tickSize;
    const floor = tick.times(this.options.maxHalfSpreadTicks + 1);

    // Box–Muller turns two uniforms into one standard normal draw; the move is a relative change.
    const normal = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
    const move = walk.last.times(new Decimal(normal * this.options.volatilityPerStep));
    const next = walk.last.plus(move).toNearest(tick, Decimal.ROUND_HALF_EVEN);
    walk.last = Decimal.max(next, floor);

    const halfSpread = tick.times(1 + Math.floor(random() * this.options.maxHalfSpreadTicks));
    const lastSize = this.size(walk);
    // Feeds must stamp strictly increasing times per symbol, so two steps in one ms are a ms apart.
    const exchangeTimeMs = Math.max(nowMs, walk.lastTimeMs + 1);
    walk.volume = isSameUtcDay(walk.lastTimeMs, exchangeTimeMs) ? walk.volume.plus(lastSize) : lastSize;
    walk.lastTimeMs = exchangeTimeMs;
    return {
      symbol,
      bid: walk.last.minus(halfSpread),
      ask: walk.last.plus(halfSpread),
      last: walk.last,
      bidSize: this.size(walk),
      askSize: this.size(walk),
      lastSize,
      volume: walk.volume,
      exchangeTimeMs,
    };
  }

  /** Round lots for exchange-listed instruments, four decimals of a coin for crypto. */
  private size(walk: WalkState): Decimal {
    const lots = 1 + Math.floor(walk.random() * 20);
    if (walk.instrument.lotSize.greaterThanOrEqualTo(1)) return walk.instrument.lotSize.times(lots * 100);
    return new Decimal(lots).dividedBy(4).toDecimalPlaces(4, Decimal.ROUND_DOWN);
  }
}
