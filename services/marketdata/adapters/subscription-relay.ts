// Hands UpdateSubscription calls between market data instances over the platform's request/reply bus (Redis pub/sub
// when REDIS_URL is set, in-process otherwise). The request carries the caller as the receiving instance
// authenticated it (the bus is as trusted as the quote bus beside it); the instance holding the stream applies its
// own rules, ownership included, and its MarketDataError travels back as code, message and details, so the caller
// gets the same status and google.rpc details whichever instance took the call.
import { unavailable } from "../../platform/errors";
import { RemoteHandlerError, type RequestReplyBus } from "../../platform/request-reply";
import { isMarketDataErrorCode, MarketDataError, type MarketDataErrorDetails } from "../domain/errors";
import type { OtherInstances, UpdateSubscriptionRequest } from "../domain/quote-streams";

/** Channel of the updates (under the bus namespace, so only instances sharing quotes hear each other). */
const CHANNEL = "marketdata.subscription-updates";

type Reply = { symbols: readonly string[] } | { error: { code: string; message: string; details: MarketDataErrorDetails } };

export interface SubscriptionRelay extends OtherInstances {
  /**
   * Answers the updates other instances hand on: `apply` returns the stream's symbols after the update, undefined
   * when this instance does not hold the stream, or throws the domain's error.
   */
  serve(apply: (request: UpdateSubscriptionRequest) => readonly string[] | undefined): Promise<void>;
}

export interface SubscriptionRelayOptions {
  /** How long to wait for instances that received an update but did not answer (then: no one holds the stream). */
  timeoutMs: number;
}

export function createSubscriptionRelay(bus: RequestReplyBus, options: SubscriptionRelayOptions): SubscriptionRelay {
  return {
    async updateSubscription(request, signal) {
      let body: string | undefined;
      try {
        body = await bus.request(CHANNEL, JSON.stringify(request), { timeoutMs: options.timeoutMs, signal });
      } catch (error) {
        // A cancelled call ends as CANCELLED, and a holder that failed unexpectedly is a bug (INTERNAL); anything
        // else means the bus itself could not be used, which a retry may get past.
        if (error instanceof RemoteHandlerError || (error instanceof Error && error.name === "AbortError")) throw error;
        throw unavailable("STREAM_ROUTING_UNAVAILABLE", "the instance holding the stream cannot be reached; retry later", {
          cause: error,
          retryAfterMs: 1_000,
        });
      }
      if (body === undefined) return undefined;
      const reply = JSON.parse(body) as Reply;
      if ("symbols" in reply) return reply.symbols;
      const { code, message, details } = reply.error;
      if (!isMarketDataErrorCode(code)) throw new Error(`the instance holding the stream answered with unknown error code ${code}`);
      throw new MarketDataError(code, message, details);
    },

    async serve(apply) {
      await bus.serve(CHANNEL, (body) => {
        const request = JSON.parse(body) as UpdateSubscriptionRequest;
        let reply: Reply;
        try {
          const symbols = apply(request);
          if (symbols === undefined) return undefined;
          reply = { symbols };
        } catch (error) {
          if (!(error instanceof MarketDataError)) throw error;
          reply = { error: { code: error.code, message: error.message, details: error.details } };
        }
        return JSON.stringify(reply);
      });
    },
  };
}
