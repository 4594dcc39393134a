// Unary calls: one grpc-js handler per method runs telemetry → metrics → error mapping → deadline check → auth →
// rate limit → the implementation as plain calls (see the header comment of grpc-server.ts), with the context
// nice-grpc would give. The in-process path (grpc-server-in-process.ts) runs the same steps on the same UnaryMethod.
import type * as grpc from '@grpc/grpc-js';
import { context as otelContext, type Span } from '@opentelemetry/api';
import { ServerError, Status, type CallContext } from 'nice-grpc-common';
import { authenticate, type AuthCallContext, type Authenticator, type Principal } from './auth';
import { mapError, writeErrorDetails } from './error-mapping';
import {
  callEndedBeforeStart,
  callTraceHeaders,
  GrpcJsCallContext,
  headerOf,
  peerOfCall,
  type TradeplaneCallContext,
} from './grpc-server-call-context';
import type { Logger } from './logger';
import { statusOf, type RpcMetrics } from './metrics';
import { enforceRateLimit, type RateLimiter } from './rate-limit';
import { endServerSpan, startServerSpan } from './telemetry';

export type MethodImplementation = (request: unknown, context: never) => unknown;

/** Everything the handler of one unary method needs, fixed when the server starts listening. */
export interface UnaryMethod {
  readonly path: string;
  readonly implementation: MethodImplementation;
  readonly metrics: RpcMetrics;
  /** Unset for methods anyone may call (health, reflection). */
  readonly authenticator: Authenticator | undefined;
  /** Unset when rate limiting is off or does not apply. */
  readonly limiter: RateLimiter | undefined;
  readonly logger: Logger;
  readonly shutdownSignal: AbortSignal;
}

type UnaryCall = grpc.ServerUnaryCall<unknown, unknown>;

export const noop = (): void => {};

/**
 * The call context of a unary call: nice-grpc's CallContext plus the platform's members. Metadata, header, trailer
 * and the abort signal are built the first time something reads them; most calls read none of them.
 */
class UnaryCallContext extends GrpcJsCallContext<UnaryCall> implements CallContext, TradeplaneCallContext {
  readonly abortOnTerminate = noop; // unary calls are short: shutdown lets them finish
  private controller: AbortController | undefined;
  private ended = false;

  constructor(
    call: UnaryCall,
    readonly shutdownSignal: AbortSignal,
  ) {
    super(call);
  }


  /** Aborts when the client cancels or the deadline passes, until the call has ended. */
  get signal(): AbortSignal {
    if (this.controller === undefined) {
      const controller = new AbortController();
      this.controller = controller;
      if (this.call.cancelled) controller.abort();
      else if (!this.ended) this.call.once('cancelled', () => this.ended || controller.abort());
    }
    return this.controller.signal;
  }


  /** Marks the call answered (its signal no longer aborts), sends pending headers and returns the trailer to send. */
  end(): grpc.Metadata | undefined {
    this.ended = true;
    this.sendHeader();
    return this.trailerToSend();
  }
}

/** The grpc-js handler of a unary method: the platform steps in order, as plain calls. */
export function unaryHandler(method: UnaryMethod): grpc.handleUnaryCall<unknown, unknown> {
  return (call, callback) => {
    // serveUnary answers every failure of the handler itself; this only catches a bug in the answering.
    serveUnary(method, call, callback).catch((error: unknown) => {
      method.logger.error('failed to answer a unary call', { method: method.path, err: error });
    });
  };
}

async function serveUnary(method: UnaryMethod, call: UnaryCall, callback: grpc.sendUnaryData<unknown>): Promise<void> {
  const startedAtMs = method.metrics.start();
  const { span, context: traceContext } = startServerSpan(method.path, call, callTraceHeaders, peerOfCall);
  const callContext = new UnaryCallContext(call, method.shutdownSignal);
  let response: unknown;
  try {
    response = await otelContext.with(traceContext, answerUnary, undefined, method, call, callContext);
    if (response === undefined || response === null) throw new Error(`${method.path} returned no response`);
  } catch (error) {
    // In the call's trace context, so that what the error mapping logs carries the call's trace id.
    await otelContext.with(traceContext, fail, undefined, method, call, callContext, span, startedAtMs, callback, error);
    return;
  }
  method.metrics.finish(Status.OK, startedAtMs);
  endServerSpan(span, Status.OK);
  callback(null, response, callContext.end());
}

/** Deadline check, auth and rate limit, then the handler (errors are mapped by the caller). */
function answerUnary(method: UnaryMethod, call: UnaryCall, callContext: UnaryCallContext): unknown {
  if (call.cancelled) throw callEndedBeforeStart();
  if (method.authenticator === undefined) return method.implementation(call.request, callContext as never);
  const principal = authenticate(method.authenticator, headerOf(call.metadata, 'authorization'));
  if (principal instanceof Promise) return principal.then((verified) => authorized(method, call.request, callContext, verified));
  return authorized(method, call.request, callContext, principal);
}

export function authorized(method: UnaryMethod, request: unknown, callContext: AuthCallContext, principal: Principal): unknown {
  callContext.principal = principal;
  if (method.limiter !== undefined) enforceRateLimit(method.limiter, principal);
  return method.implementation(request, callContext as never);
}

async function fail(
  method: UnaryMethod,
  call: UnaryCall,
  callContext: UnaryCallContext,
  span: Span,
  startedAtMs: number,
  callback: grpc.sendUnaryData<unknown>,
  error: unknown,
): Promise<void> {
  const mapped = mapError(error, method.path, call.cancelled, method.logger);
  await writeErrorDetails(mapped, callContext.trailer);
  const code = statusOf(mapped);
  const details = mapped instanceof ServerError ? mapped.details : code === Status.CANCELLED ? 'The operation was cancelled' : 'Unknown server error occurred';
  method.metrics.finish(code, startedAtMs);
  endServerSpan(span, code, details);
  const trailer = callContext.end();
  callback({ code, details, ...(trailer === undefined ? {} : { metadata: trailer }) });
}
