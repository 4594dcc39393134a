import type { PublishTicksDeps } from "../domain/publish-ticks";
import { publishQuotes } from "../domain/publish-ticks";
import type { QuoteSimulator } from "../domain/quote-simulator";

export interface SimulatorFeedDeps extends Pick<PublishTicksDeps, "publisher" | "recorder" | "rememberAccepted"> {
  readonly simulator: QuoteSimulator;
  readonly ticksPerSecond: number;
  readonly nowMs: () => number;
  readonly onError: (error: unknown) => void;
}

export interface RunningFeed {
  stop(): Promise<void>;
}

/**
 * Drives the seeded random walk: every 1/rate seconds each simulated symbol ticks once, and the round
 * is published as one batch. The first round runs before this resolves, so quotes exist as soon as
 * the service answers. A round that is still publishing when the next is due makes the next one skip
 * (the feed slows down instead of piling up).
 */
export async function startSimulatorFeed(deps: SimulatorFeedDeps): Promise<RunningFeed> {
  let inFlight: Promise<void> | undefined;
  const round = (): Promise<void> => {
    const nowMs = deps.nowMs();
    const quotes = deps.simulator.symbols.map((symbol) => deps.simulator.step(symbol, nowMs));
    for (const quote of quotes) deps.rememberAccepted(quote);
    return publishQuotes(deps, quotes).then(
      () => undefined,
      (error: unknown) => deps.onError(error),
    );
  };

  await round();
  const timer = setInterval(() => {
    if (inFlight) return;
    inFlight = round().finally(() => {
      inFlight = undefined;
    });
  }, 1000 / deps.ticksPerSecond);

  return {
    async stop() {
      clearInterval(timer);
      await inFlight;
    },
  };
}
