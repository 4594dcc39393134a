// Transport only: each handler decodes the request, calls one use case, and encodes the result.
// Domain errors become statuses in the platform's error mapping; nothing here decides business rules.
import type { MarketDataServiceImplementation } from "../../../generated/tradeplane/marketdata/v1/market_data_service";
import type { StreamQuotesResponse, TickRejection } from "../../../generated/tradeplane/marketdata/v1/market_data_service";
import { requireRole } from "../../platform/auth";
import { preEncoded, type TradeplaneCallContext } from "../../platform/grpc-server";
import type { GetBarsDeps } from "../domain/get-bars";
import { getBars } from "../domain/get-bars";
import type { InstrumentRegistry } from "../domain/instrument-registry";
import { findInstrument, listInstruments } from "../domain/instrument-registry";
import type { PublishTicksDeps } from "../domain/publish-ticks";
import { publishTicks } from "../domain/publish-ticks";
import type { UpdateAnySubscriptionDeps } from "../domain/quote-streams";
import { closeQuoteStream, openQuoteStream, updateSubscriptionOnAnyInstance } from "../domain/quote-streams";
import type { ReadQuotesDeps } from "../domain/read-quotes";
import { batchGetQuotes, getQuote } from "../domain/read-quotes";
import {
  assetClassFilterFromProto,
  barIntervalFromProto,
  barToProto,
  frameToProto,
  instrumentToProto,
  quoteToProto,
  statusFilterFromProto,
  TICK_REJECTION_TO_PROTO,
  tickFromProto,
  UpdateFrameEncoder,
} from "./mappers";

export interface MarketDataHandlerDeps {
  readonly registry: InstrumentRegistry;
  readonly reads: ReadQuotesDeps;
  readonly bars: GetBarsDeps;
  readonly streams: UpdateAnySubscriptionDeps;
  readonly publishing: PublishTicksDeps;
  readonly nowMs: () => number;
  /** What the transport counts: open streams and rejected ticks by reason. */
  readonly metrics: {
    readonly streamsOpen: { inc(): void; dec(): void };
    readonly ticksRejected: { inc(labels: { reason: string }): void };
  };
}

/** PublishQuotes reports at most this many rejections (the counts are always complete). */
const MAX_REPORTED_REJECTIONS = 1000;

export function createMarketDataService(deps: MarketDataHandlerDeps): MarketDataServiceImplementation<TradeplaneCallContext> {
  const securityIdOf = (symbol: string): string => deps.registry.bySymbol(symbol)?.securityId ?? "";

  return {
    async getInstrument(request) {
      const instrument = findInstrument(deps.registry, { symbol: request.symbol, securityId: request.securityId });
      return { instrument: instrumentToProto(instrument) };
    },

    async listInstruments(request) {
      const assetClass = assetClassFilterFromProto(request.assetClass);
      if (assetClass === "NONE") return { instruments: [], nextPageToken: "" };
      const page = listInstruments(
        deps.registry,
        {
          assetClass,
          status: statusFilterFromProto(request.status),
          isTradableOnly: request.tradableOnly,
          query: request.query,
          securityIds: request.securityIds,
        },
        { pageSize: request.pageSize, pageToken: request.pageToken },
      );
      return { instruments: page.instruments.map(instrumentToProto), nextPageToken: page.nextPageToken };
    },

    async getQuote(request) {
      const quote = await getQuote(deps.reads, request.symbol);
      return { quote: quoteToProto(quote, securityIdOf(quote.symbol)) };
    },

    async batchGetQuotes(request) {
      const result = await batchGetQuotes(deps.reads, request.symbols);
      return { quotes: result.quotes.map((quote) => quoteToProto(quote, securityIdOf(quote.symbol))), missingSymbols: [...result.missingSymbols] };
    },

    async getBars(request) {
      const page = await getBars(deps.bars, {
        symbol: request.symbol,
        interval: barIntervalFromProto(request.interval),
        startMs: request.startTime?.getTime(),
        endMs: request.endTime?.getTime(),
        pageSize: request.pageSize,
        pageToken: request.pageToken,
      });
      return { bars: page.bars.map(barToProto), nextPageToken: page.nextPageToken };
    },

    async *streamQuotes(request, context) {
      const subscription = await openQuoteStream(deps.streams, {
        callerId: context.principal.subject,
        symbols: request.symbols,
        resumeToken: request.resumeToken === "" ? undefined : request.resumeToken,
      });
      // Both signals are this call's own (the platform tells each stream of shutdown), so listening costs the same
      // with thousands of streams open.
      const endForShutdown = () => subscription.end("SERVER_SHUTDOWN");
      const closeForCancel = () => subscription.close();
      context.shutdownSignal.addEventListener("abort", endForShutdown, { once: true });
      context.signal.addEventListener("abort", closeForCancel, { once: true });
      if (context.shutdownSignal.aborted) endForShutdown();
      deps.metrics.streamsOpen.inc();
      let updates: UpdateFrameEncoder | undefined; // Made at the first UPDATE: a stream that never gets one needs none.
      try {
        while (!subscription.isFinished) {
          const frame = subscription.pull();
          if (frame?.kind === "UPDATE") {
            // The hot path: the quote's bytes are shared by every subscriber of the symbol.
            updates ??= new UpdateFrameEncoder(subscription.streamId);
            const bytes = updates.encode(frame.quote, securityIdOf(frame.symbol), frame.epoch, subscription.resumeToken());
            yield preEncoded<StreamQuotesResponse>(bytes);
            continue;
          }
          if (frame) {
            yield frameToProto(frame, subscription.streamId, subscription.resumeToken(), securityIdOf, deps.nowMs());
            continue;
          }
          await subscription.whenReadable();
        }
      } finally {
        context.shutdownSignal.removeEventListener("abort", endForShutdown);
        context.signal.removeEventListener("abort", closeForCancel);
        closeQuoteStream(deps.streams, subscription);
        deps.metrics.streamsOpen.dec();
      }
    },

    async updateSubscription(request, context) {
      const symbols = await updateSubscriptionOnAnyInstance(
        deps.streams,
        { callerId: context.principal.subject, streamId: request.streamId, add: request.add, remove: request.remove },
        context.signal,
      );
      return { symbols: [...symbols].sort() };
    },

    async publishQuotes(requests, context) {
      requireRole(context.principal, "feed", "admin");
      let nextIndex = 0;
      let acceptedCount = 0;
      let rejectedCount = 0;
      const rejections: TickRejection[] = [];
      for await (const message of requests) {
        const result = await publishTicks(deps.publishing, message.ticks.map(tickFromProto), nextIndex);
        nextIndex += message.ticks.length;
        acceptedCount += result.accepted.length;
        rejectedCount += result.rejections.length;
        for (const rejection of result.rejections) deps.metrics.ticksRejected.inc({ reason: rejection.code });
        for (const rejection of result.rejections.slice(0, MAX_REPORTED_REJECTIONS - rejections.length)) {
          rejections.push({
            index: String(rejection.index),
            symbol: rejection.symbol,
            reason: TICK_REJECTION_TO_PROTO[rejection.code],
            message: rejection.message,
          });
        }
      }
      // Answer once the accepted ticks are stored, so a GetQuote after PublishQuotes sees them.
      await deps.publishing.recorder.flush();
      return { acceptedCount: String(acceptedCount), rejectedCount: String(rejectedCount), rejections };
    },
  };
}
