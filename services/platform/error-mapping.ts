// The one place where failures become gRPC statuses. DomainErrors map by kind, with google.rpc details a client can
// act on (ErrorInfo always; BadRequest, PreconditionFailure and RetryInfo where they apply). Database connection
// failures become UNAVAILABLE so clients retry. Anything else is a bug: the client gets INTERNAL with an error id
// and a generic message, and the log gets the real error under the same id. No stack trace ever crosses the wire.
import { randomUUID } from 'node:crypto';
import {
  composeServerMiddleware,
  ServerError,
  Status,
  type CallContext,
  type Metadata,
  type ServerMiddleware,
} from 'nice-grpc-common';
import {
  BadRequest,
  ErrorInfo,
  errorDetailsServerMiddleware,
  PreconditionFailure,
  RetryInfo,
  RichServerError,
  type ErrorDetails,
} from 'nice-grpc-error-details';
import { isDomainError, type DomainError, type ErrorKind } from './errors';
import type { Logger } from './logger';

const STATUS_BY_KIND: Record<ErrorKind, Status> = {
  invalid: Status.INVALID_ARGUMENT,
  not_found: Status.NOT_FOUND,
  already_exists: Status.ALREADY_EXISTS,
  failed_precondition: Status.FAILED_PRECONDITION,
  aborted: Status.ABORTED,
  resource_exhausted: Status.RESOURCE_EXHAUSTED,
  unavailable: Status.UNAVAILABLE,
  permission_denied: Status.PERMISSION_DENIED,
  unauthenticated: Status.UNAUTHENTICATED,
};

/** The gRPC status of a DomainError kind. */
export function statusOfKind(kind: ErrorKind): Status {
  return STATUS_BY_KIND[kind];
}

/** ErrorInfo domain for a method path: `/tradeplane.orders.v1.OrderService/X` → `tradeplane.orders`. */
export function errorDomainOf(path: string): string {
  const match = /^\/tradeplane\.([a-z0-9_]+)\./.exec(path);
  return match === null ? 'tradeplane' : `tradeplane.${match[1]}`;
}

/** The wire form of a DomainError: status, client message and google.rpc details. */
export function toRichServerError(error: DomainError, domain: string): RichServerError {
  const details: ErrorDetails[] = [
    ErrorInfo.fromPartial({ reason: error.code, domain, metadata: { ...error.metadata } }),
  ];
  if (error.violations !== undefined && error.violations.length > 0) {
    details.push(BadRequest.fromPartial({ fieldViolations: error.violations.map((v) => ({ ...v })) }));
  }
  if (error.kind === 'failed_precondition') {
    const violations = error.preconditions ?? [{ type: error.code, subject: '', description: error.message }];
    details.push(PreconditionFailure.fromPartial({ violations: violations.map((v) => ({ ...v })) }));
  }
  if (error.retryAfterMs !== undefined) {
    details.push(RetryInfo.fromPartial({ retryDelay: durationOf(error.retryAfterMs) }));
  }
  return new RichServerError(STATUS_BY_KIND[error.kind], error.message, details);
}

function durationOf(millis: number): { seconds: number; nanos: number } {
  const whole = Math.max(0, Math.ceil(millis));
  return { seconds: Math.floor(whole / 1000), nanos: (whole % 1000) * 1_000_000 };
}

// Error codes of Node sockets and Postgres (class 08 connection exceptions, 57P0x shutdown/startup) that mean the
// database cannot be reached right now, as opposed to a bad query.
const CONNECTION_ERROR_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'EAI_AGAIN',
  '08000', '08001', '08003', '08004', '08006', '57P01', '57P02', '57P03',
]);
const CONNECTION_ERROR_MESSAGES = [
  /Connection terminated/i,
  /timeout exceeded when trying to connect/i,
  /Knex: Timeout acquiring a connection/i,
  /Client has encountered a connection error/i,
];
// Postgres serialization failure and deadlock: the transaction lost a race and the whole call may be retried.
const CONFLICT_CODES = new Set(['40001', '40P01']);

/** Walks `cause` and AggregateError members, as pg and knex wrap the socket error that explains a failure. */
function someCause(error: unknown, test: (candidate: { code?: unknown; name?: unknown; message?: unknown }) => boolean): boolean {
  const pending: unknown[] = [error];
  for (let hops = 0; pending.length > 0 && hops < 10; hops += 1) {
    const candidate = pending.shift();
    if (candidate === null || typeof candidate !== 'object') continue;
    if (test(candidate as { code?: unknown })) return true;
    if (candidate instanceof AggregateError) pending.push(...candidate.errors);
    if ('cause' in candidate) pending.push((candidate as { cause: unknown }).cause);
  }
  return false;
}

/** True when the error says the database (or another socket peer) is unreachable. */
export function isConnectionError(error: unknown): boolean {
  return someCause(
    error,
    (e) =>
      (typeof e.code === 'string' && CONNECTION_ERROR_CODES.has(e.code)) ||
      e.name === 'KnexTimeoutError' ||
      (typeof e.message === 'string' && CONNECTION_ERROR_MESSAGES.some((pattern) => pattern.test(e.message as string))),
  );
}

function isConflictError(error: unknown): boolean {
  return someCause(error, (e) => typeof e.code === 'string' && CONFLICT_CODES.has(e.code));
}

export interface ErrorMappingOptions {
  logger: Logger;
}

/**
 * Server middleware: converts whatever a handler throws into a status with details. ServerErrors pass through
 * unchanged; cancellations pass through so nice-grpc reports CANCELLED.
 */
export function createErrorMappingMiddleware(options: ErrorMappingOptions): ServerMiddleware {
  const { logger } = options;
  const mapping: ServerMiddleware = async function* errorMappingMiddleware(call, context) {
    try {
      return yield* call.next(call.request, context);
    } catch (error) {
      throw mapError(error, call.method.path, context.signal.aborted, logger);
    }
  };
  // errorDetailsServerMiddleware writes the details of a RichServerError into the grpc-status-details-bin trailer.
  return composeServerMiddleware(errorDetailsServerMiddleware, mapping);
}

/**
 * What a call that failed with `error` answers: a ServerError (RichServerError with details) or an AbortError.
 * `callAborted` says the client has gone (cancelled, deadline passed).
 */
export function mapError(error: unknown, path: string, callAborted: boolean, logger: Logger): unknown {
  // Once the client has gone nobody reads the status, and a handler failing because its work was aborted is
  // expected rather than a bug: report a plain cancellation.
  if (callAborted && !(error instanceof ServerError)) {
    logger.debug('call ended after cancellation', { method: path, err: error });
    return cancelled();
  }
  return toServerError(error, path, logger);
}

/**
 * Writes the google.rpc.Status of a RichServerError into the `grpc-status-details-bin` trailer, for calls that do
 * not run through the middleware chain. Failures are the rare path, so this reuses nice-grpc-error-details' own
 * middleware (and its encoding) on a call whose only step throws `error`.
 */
export async function writeErrorDetails(error: unknown, trailer: Metadata): Promise<void> {
  if (!(error instanceof RichServerError)) return;
  const failing = errorDetailsServerMiddleware(
    {
      // The middleware reads nothing but `next`; the rest only satisfies the type.
      method: { path: '', requestStream: false, responseStream: false, options: {} },
      requestStream: false,
      responseStream: false,
      request: undefined,
      next: async function* failed(): AsyncGenerator<never, never, undefined> {
        throw error;
      },
    },
    { trailer } as CallContext,
  );
  await failing.next().catch(() => undefined);
}

function cancelled(): Error {
  const error = new Error('the call was cancelled');
  error.name = 'AbortError';
  return error;
}

function toServerError(error: unknown, path: string, logger: Logger): unknown {
  if (error instanceof ServerError) return error;
  if (error instanceof Error && error.name === 'AbortError') return error;
  const domain = errorDomainOf(path);
  if (isDomainError(error)) {
    if (error.cause !== undefined) logger.debug('domain error with cause', { method: path, code: error.code, err: error });
    return toRichServerError(error, domain);
  }
  if (isConnectionError(error)) {
    logger.warn('dependency unavailable', { method: path, err: error });
    return new RichServerError(Status.UNAVAILABLE, 'a dependency is unavailable; retry later', [
      ErrorInfo.fromPartial({ reason: 'DEPENDENCY_UNAVAILABLE', domain }),
      RetryInfo.fromPartial({ retryDelay: durationOf(1000) }),
    ]);
  }
  if (isConflictError(error)) {
    logger.info('transaction conflict', { method: path, err: error });
    return new RichServerError(Status.ABORTED, 'a concurrent change conflicted with this request; retry it', [
      ErrorInfo.fromPartial({ reason: 'TRANSACTION_CONFLICT', domain }),
    ]);
  }
  const errorId = randomUUID();
  logger.error('unexpected error in handler', { method: path, errorId, err: error });
  return new RichServerError(Status.INTERNAL, `internal error (error id ${errorId})`, [
    ErrorInfo.fromPartial({ reason: 'INTERNAL', domain, metadata: { errorId } }),
  ]);
}
