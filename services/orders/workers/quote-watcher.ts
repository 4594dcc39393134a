// The quote watcher: holds one StreamQuotes call to market data for the symbols that have working orders, and
// re-evaluates those orders as each quote arrives (a resting limit fills on the tick that makes it marketable).
// The symbol set is refreshed periodically; a changed set restarts the stream. The sweeper covers any quote missed
// while the stream reconnects.
import type { Knex } from "knex";
import type { Quote } from "../../../generated/tradeplane/marketdata/v1/market_data";
import type { MarketDataServiceDefinition } from "../../../generated/tradeplane/marketdata/v1/market_data_service";
import type { TradeplaneClient } from "../../../clients/node";
import type { Logger } from "../../platform/logger";
import { startPeriodic } from "../../platform/periodic";
import { workingOrderIds } from "../adapters/order-store";
import { executeOrder, type ExecuteOrderDeps } from "../domain/execute-order";
import type { QuoteInfo } from "../domain/market-snapshot";

/** Working orders re-evaluated per quote. */
const ORDERS_PER_QUOTE = 200;
const STREAM_DEADLINE_MS = 24 * 60 * 60 * 1000;
/** The market data stream accepts a bounded symbol set; beyond it the sweeper does the work. */
const MAX_SYMBOLS = 500;

/** Starts watching; returns its stop function. */
export function startQuoteWatcher(options: {
  client: TradeplaneClient<typeof MarketDataServiceDefinition>;
  knex: Knex;
  schema: string;
  deps: ExecuteOrderDeps;
  toQuote: (quote: Quote) => QuoteInfo;
  symbolsOfWorkingOrders: () => Promise<string[]>;
  refreshMs: number;
  logger: Logger;
}): () => Promise<void> {
  const { logger } = options;
  let stopped = false;
  let current = "";
  let stream: AbortController | undefined;
  let streaming: Promise<void> = Promise.resolve();
  const busy = new Set<string>();

  // Latest unprocessed quote per symbol: a burst of ticks is evaluated once, against the newest.
  const latest = new Map<string, Quote>();

  async function onQuote(quote: Quote): Promise<void> {
    latest.set(quote.symbol, quote);
    if (busy.has(quote.symbol)) return;
    busy.add(quote.symbol);
    try {
      for (let next = latest.get(quote.symbol); next !== undefined && !stopped; next = latest.get(quote.symbol)) {
        latest.delete(quote.symbol);
        await evaluate(next);
      }
    } finally {
      busy.delete(quote.symbol);
    }
  }

  async function evaluate(quote: Quote): Promise<void> {
    try {
      const ids = await workingOrderIds(options.knex, options.schema, [quote.symbol], ORDERS_PER_QUOTE);
      if (ids.length === 0) return;
      // The instrument (cached by the adapter) with the streamed quote, which may be newer than a lookup's.
      const looked = await options.deps.marketData.snapshot({ symbol: quote.symbol });
      if (looked === null) return;
      const market = { ...looked, quote: options.toQuote(quote) };
      for (const id of ids) {
        if (stopped) return;
        await executeOrder(options.deps, id, market).catch((error: unknown) =>
          logger.warn("quote watcher could not execute an order", { orderId: id, err: error }),
        );
      }
    } catch (error) {
      logger.warn("quote watcher could not re-evaluate orders", { symbol: quote.symbol, err: error });
    }
  }

  function watch(symbols: string[]): void {
    stream?.abort();
    const controller = new AbortController();
    stream = controller;
    const previous = streaming;
    streaming = (async () => {
      await previous;
      try {
        for await (const frame of options.client.streamQuotes(
          { symbols },
          // A stream outlives the default call deadline; it ends when the symbol set changes or at stop.
          { signal: controller.signal, deadline: new Date(Date.now() + STREAM_DEADLINE_MS) },
        )) {
          const quote = frame.frame?.$case === "update" || frame.frame?.$case === "snapshot" ? frame.frame.value : null;
          if (quote !== null) void onQuote(quote);
        }
      } catch (error) {
        if (!controller.signal.aborted) {
          logger.warn("quote stream ended; the next refresh reopens it", { err: error });
          current = "";
        }
      }
    })();
  }

  async function refresh(): Promise<void> {
    const symbols = (await options.symbolsOfWorkingOrders()).sort().slice(0, MAX_SYMBOLS);
    const key = symbols.join(",");
    if (key === current) return;
    current = key;
    if (symbols.length === 0) {
      stream?.abort();
      return;
    }
    watch(symbols);
  }

  const refreshing = startPeriodic({
    intervalMs: options.refreshMs,
    round: refresh,
    onError: (error) => logger.warn("quote watcher refresh failed", { err: error }),
  });

  return async () => {
    stopped = true;
    stream?.abort();
    await refreshing.stop();
    await streaming;
  };
}
