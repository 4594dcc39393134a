// Errors as an HTTP client sees them. A gRPC status becomes an HTTP status by the canonical table (the one
// google.rpc.Code documents and grpc-gateway uses) and an AIP-193 body:
//   { "error": { "code": 404, "status": "NOT_FOUND", "message": "...", "details": [ { "@type": ..., ... } ] } }
// `code` is the HTTP status, `status` the gRPC code name, `details` the google.rpc details the service sent (read
// from `grpc-status-details-bin` by nice-grpc-error-details), in their proto3 JSON form. The bridge's own failures (bad JSON, unknown route,
// oversized body) use the same shape with an ErrorInfo of domain `tradeplane.gateway`.
//
// FAILED_PRECONDITION is 400, not 412: 412 is about HTTP conditional headers (If-Match), which the bridge does not
// use; google.rpc.Code and grpc-gateway v2 both say 400. The reason (e.g. ORDER_NOT_CANCELLABLE) is in ErrorInfo.
import { ClientError, ServerError, Status } from "nice-grpc-common";
import { RichClientError, RichServerError, type ErrorDetails } from "nice-grpc-error-details";

/** gRPC status → HTTP status. */
export const HTTP_STATUS_BY_GRPC_CODE: Readonly<Record<Status, number>> = {
  [Status.OK]: 200,
  [Status.CANCELLED]: 499,
  [Status.UNKNOWN]: 500,
  [Status.INVALID_ARGUMENT]: 400,
  [Status.DEADLINE_EXCEEDED]: 504,
  [Status.NOT_FOUND]: 404,
  [Status.ALREADY_EXISTS]: 409,
  [Status.PERMISSION_DENIED]: 403,
  [Status.RESOURCE_EXHAUSTED]: 429,
  [Status.FAILED_PRECONDITION]: 400,
  [Status.ABORTED]: 409,
  [Status.OUT_OF_RANGE]: 400,
  [Status.UNIMPLEMENTED]: 501,
  [Status.INTERNAL]: 500,
  [Status.UNAVAILABLE]: 503,
  [Status.DATA_LOSS]: 500,
  [Status.UNAUTHENTICATED]: 401,
};

export type JsonObject = { [key: string]: unknown };

const TYPE_URL_PREFIX = "type.googleapis.com/";

/** The domain of ErrorInfo for failures the bridge itself detects. */
export const GATEWAY_ERROR_DOMAIN = "tradeplane.gateway";

/** A failure to report to the HTTP client: a gRPC code, a message, google.rpc details in JSON form. */
export class BridgeError extends Error {
  constructor(
    readonly grpcCode: Status,
    message: string,
    readonly details: JsonObject[] = [],
    /** Overrides the table for the bridge's own HTTP-level failures (405, 406, 413, 415). */
    readonly httpStatusOverride?: number,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "BridgeError";
  }

  get httpStatus(): number {
    return this.httpStatusOverride ?? HTTP_STATUS_BY_GRPC_CODE[this.grpcCode] ?? 500;
  }

  /** Seconds from the first RetryInfo detail, rounded up, for `Retry-After`. */
  get retryAfterSeconds(): number | undefined {
    const info = this.details.find((d) => d["@type"] === `${TYPE_URL_PREFIX}google.rpc.RetryInfo`);
    const delay = info?.retryDelay;
    if (typeof delay !== "string") return undefined;
    const seconds = Number(delay.replace(/s$/, ""));
    return Number.isFinite(seconds) ? Math.max(0, Math.ceil(seconds)) : undefined;
  }

  /** The AIP-193 body. */
  body(): { error: { code: number; status: string; message: string; details: JsonObject[] } } {
    return { error: { code: this.httpStatus, status: Status[this.grpcCode] ?? "UNKNOWN", message: this.message, details: this.details } };
  }
}

export interface FieldViolation {
  field: string;
  description: string;
}

/** A failure detected by the bridge, with ErrorInfo (and BadRequest when there are field violations). */
export function gatewayError(
  grpcCode: Status,
  reason: string,
  message: string,
  options: { httpStatus?: number; violations?: FieldViolation[]; headers?: Record<string, string> } = {},
): BridgeError {
  const details: JsonObject[] = [{ "@type": `${TYPE_URL_PREFIX}google.rpc.ErrorInfo`, reason, domain: GATEWAY_ERROR_DOMAIN, metadata: {} }];
  if (options.violations !== undefined && options.violations.length > 0) {
    details.push({ "@type": `${TYPE_URL_PREFIX}google.rpc.BadRequest`, fieldViolations: options.violations });
  }
  return new BridgeError(grpcCode, message, details, options.httpStatus, options.headers);
}

/**
 * Turns what a call threw into a BridgeError: a gRPC call's ClientError (details decoded by
 * `errorDetailsClientMiddleware`), or an in-process call's ServerError, which carries the same status, message and
 * details before they would have been encoded.
 */
export function bridgeErrorOf(error: unknown): BridgeError {
  if (error instanceof BridgeError) return error;
  if (error instanceof RichClientError || error instanceof RichServerError) return new BridgeError(error.code, error.details, error.extra.map(detailJson));
  if (error instanceof ClientError || error instanceof ServerError) return new BridgeError(error.code, error.details);
  if (error instanceof Error && error.name === "AbortError") return new BridgeError(Status.CANCELLED, "the call was cancelled");
  return new BridgeError(Status.INTERNAL, "internal error in the HTTP bridge");
}

/**
 * A decoded google.rpc detail (a ts-proto object of nice-grpc-error-details) in proto3 JSON: `@type` from its
 * `$type`, Durations as "1.5s"; an Any of a type it does not know keeps its bytes as base64.
 */
function detailJson(detail: ErrorDetails): JsonObject {
  if (detail.$type === "google.protobuf.Any") {
    const any = detail as unknown as { typeUrl: string; value: Uint8Array };
    return { "@type": any.typeUrl, value: Buffer.from(any.value).toString("base64") };
  }
  const out: JsonObject = { "@type": `${TYPE_URL_PREFIX}${detail.$type}` };
  for (const [key, value] of Object.entries(detail)) {
    if (key === "$type") continue;
    out[key] = jsonValueOf(value);
  }
  return out;
}

function jsonValueOf(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(jsonValueOf);
  if (value !== null && typeof value === "object") {
    const typed = value as { $type?: string; seconds?: number | string; nanos?: number };
    if (typed.$type === "google.protobuf.Duration") return durationJson(Number(typed.seconds ?? 0), typed.nanos ?? 0);
    const out: JsonObject = {};
    for (const [key, inner] of Object.entries(value)) if (key !== "$type") out[key] = jsonValueOf(inner);
    return out;
  }
  return value;
}

function durationJson(seconds: number, nanos: number): string {
  if (nanos === 0) return `${seconds}s`;
  const fraction = String(Math.abs(nanos)).padStart(9, "0").replace(/0+$/, "");
  return `${seconds}.${fraction}s`;
}
