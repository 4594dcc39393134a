/**
 * Stable error codes of the market data domain. The transport edge maps each code to a status once
 * (grpc/to-server-error.ts); nothing in domain/ knows about gRPC.
 */
export type MarketDataErrorCode =
  | "INVALID_SYMBOL"
  | "INSTRUMENT_NOT_FOUND"
  | "UNKNOWN_SYMBOL"
  | "INVALID_ARGUMENT"
  | "BATCH_TOO_LARGE"
  | "INVALID_RESUME_TOKEN"
  | "TOO_MANY_STREAMS"
  | "TOO_MANY_SYMBOLS"
  | "STREAM_NOT_FOUND";

/** What the caller may need to correct the request: the offending field, symbols or limit. */
export interface MarketDataErrorDetails {
  /** Request field the error is about, in snake_case as on the wire. */
  readonly field?: string;
  /** Symbols the error is about, e.g. the unknown ones of a subscription. */
  readonly symbols?: readonly string[];
  /** The limit that was exceeded, for quota errors. */
  readonly limit?: number;
}

/** A rule of the market data domain was broken; `code` is stable, `message` is safe to show to the caller. */
export class MarketDataError extends Error {
  override readonly name = "MarketDataError";

  constructor(
    readonly code: MarketDataErrorCode,
    message: string,
    readonly details: MarketDataErrorDetails = {},
  ) {
    super(message);
  }
}
