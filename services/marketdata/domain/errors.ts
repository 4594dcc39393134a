import { DomainError, type ErrorKind } from "../../platform/errors";

/**
 * Stable error codes of the market data domain; they are the ErrorInfo reasons clients switch on.
 * The kind decides the status at the edge (platform/error-mapping.ts); nothing here knows about gRPC.
 */
export type MarketDataErrorCode =
  | "INVALID_SYMBOL"
  | "INVALID_ARGUMENT"
  | "BATCH_TOO_LARGE"
  | "INVALID_RESUME_TOKEN"
  | "UNKNOWN_SYMBOL"
  | "UNKNOWN_INSTRUMENT"
  | "NO_QUOTE"
  | "STREAM_NOT_FOUND"
  | "TOO_MANY_STREAMS"
  | "TOO_MANY_SYMBOLS"
  | "TOO_MANY_TICKS";

const KIND_BY_CODE: Readonly<Record<MarketDataErrorCode, ErrorKind>> = {
  INVALID_SYMBOL: "invalid",
  INVALID_ARGUMENT: "invalid",
  BATCH_TOO_LARGE: "invalid",
  INVALID_RESUME_TOKEN: "invalid",
  UNKNOWN_SYMBOL: "not_found",
  UNKNOWN_INSTRUMENT: "not_found",
  NO_QUOTE: "not_found",
  STREAM_NOT_FOUND: "not_found",
  TOO_MANY_STREAMS: "resource_exhausted",
  TOO_MANY_SYMBOLS: "resource_exhausted",
  TOO_MANY_TICKS: "resource_exhausted",
};

/** Whether `code` is one of the market data error codes (e.g. one received from another instance). */
export function isMarketDataErrorCode(code: string): code is MarketDataErrorCode {
  return Object.hasOwn(KIND_BY_CODE, code);
}

/** What the caller may need to correct the request: the offending field, symbols or limit. */
export interface MarketDataErrorDetails {
  /** Request field the error is about, in snake_case as on the wire. */
  readonly field?: string;
  /** Symbols the error is about, e.g. the unknown ones of a subscription. */
  readonly symbols?: readonly string[];
  /** The limit that was exceeded, for quota errors. */
  readonly limit?: number;
}

/**
 * A rule of the market data domain was broken; `code` is stable, `message` is safe to show to the
 * caller. Symbols travel as ErrorInfo metadata `symbol` (comma-separated), an invalid field as a
 * BadRequest violation, a limit as metadata `limit`.
 */
export class MarketDataError extends DomainError {
  declare readonly code: MarketDataErrorCode;

  constructor(
    code: MarketDataErrorCode,
    message: string,
    readonly details: MarketDataErrorDetails = {},
  ) {
    const kind = KIND_BY_CODE[code];
    const metadata: Record<string, string> = {};
    if (details.symbols !== undefined) metadata.symbol = details.symbols.join(",");
    if (details.limit !== undefined) metadata.limit = String(details.limit);
    super(kind, code, message, {
      metadata,
      violations: kind === "invalid" && details.field !== undefined ? [{ field: details.field, description: message }] : undefined,
    });
  }
}
