// In-process unary calls: the same steps for a caller in this process, with request and response objects. This is
// what `invokeUnary` runs (the HTTP bridge in the one-process mode): no protobuf encoding, no HTTP/2, the failure a
// remote caller would see thrown as its ServerError.
import { context as otelContext, type TextMapGetter } from '@opentelemetry/api';
import { Metadata, ServerError, Status, type CallContext } from 'nice-grpc-common';
import { ANONYMOUS_PRINCIPAL, authenticate, type Principal } from './auth';
import { mapError } from './error-mapping';
import { callEndedBeforeStart, type TradeplaneCallContext } from './grpc-server-call-context';
import { authorized, noop, type UnaryMethod } from './grpc-server-unary';
import { statusOf } from './metrics';
import { endServerSpan, startServerSpan } from './telemetry';

/** How a caller in this process calls a unary method (`invokeUnary`). */
export interface InProcessCallOptions {
  /** What a remote caller would send as metadata: `authorization`, `traceparent`, `x-request-id`, ... */
  metadata?: Metadata;
  /** Cancels the call, as a remote client's cancellation would (the invocation rejects with CANCELLED). */
  signal?: AbortSignal;
  /** The call's deadline (epoch ms or Date): the handler's signal aborts then and the invocation rejects with DEADLINE_EXCEEDED. */
  deadline?: Date | number;
}

/** A unary method served in this process, with the ts-proto normalizers that stand in for decode/encode. */
export interface InProcessMethod extends UnaryMethod {
  /** The request as the handler would have decoded it (`fromPartial`: defaults filled, unknown keys dropped). */
  readonly normalizeRequest: (request: unknown) => unknown;
  /** The response as a remote caller would have decoded it. */
  readonly normalizeResponse: (response: unknown) => unknown;
}

const asIs = (message: unknown): unknown => message;

/** What a handler sees of an in-process call: the caller's metadata and signal; header and trailer go nowhere. */
class InProcessCallContext implements CallContext, TradeplaneCallContext {
  principal: Principal = ANONYMOUS_PRINCIPAL;
  readonly peer = 'in-process';
  readonly abortOnTerminate = noop;
  private headerWritten: Metadata | undefined;
  private trailerWritten: Metadata | undefined;

  constructor(
    readonly metadata: Metadata,
    readonly signal: AbortSignal,
    readonly shutdownSignal: AbortSignal,
  ) {}

  get header(): Metadata {
    this.headerWritten ??= Metadata();
    return this.headerWritten;
  }

  get trailer(): Metadata {
    this.trailerWritten ??= Metadata();
    return this.trailerWritten;
  }

  sendHeader(): void {}
}

const metadataTraceHeaders: TextMapGetter<Metadata> = {
  get: (metadata, key) => metadata.get(key) as string | undefined,
  keys: (metadata) => Array.from(metadata, ([key]) => key),
};

const inProcessPeer = (): string => 'in-process';
const NO_METADATA = Metadata();
const NEVER_ABORTED = new AbortController().signal;

/** The error a remote caller sees when it gives up: its own deadline, or its cancellation. */
function callerGaveUp(deadlinePassed: boolean): ServerError {
  return deadlinePassed
    ? new ServerError(Status.DEADLINE_EXCEEDED, 'the deadline passed before the service answered')
    : new ServerError(Status.CANCELLED, 'the call was cancelled');
}

/**
 * Runs an in-process call. The handler's signal aborts at the deadline or when the caller cancels, and the
 * invocation then rejects at once, as a remote client's call would, while the handler finishes in the background
 * (its outcome is still counted and traced, as the gRPC path does for a call whose client left).
 */
export function invokeInProcess(method: InProcessMethod, request: unknown, options: InProcessCallOptions): Promise<unknown> {
  const deadlineMs = options.deadline instanceof Date ? options.deadline.getTime() : options.deadline;
  if (options.signal === undefined && deadlineMs === undefined) return serveInProcess(method, request, options.metadata ?? NO_METADATA, NEVER_ABORTED);
  const controller = new AbortController();
  let deadlinePassed = false;
  let timer: NodeJS.Timeout | undefined;
  const caller = options.signal;
  const onCancel = (): void => controller.abort();
  if (caller?.aborted === true) controller.abort();
  else caller?.addEventListener('abort', onCancel, { once: true });
  if (deadlineMs !== undefined && !controller.signal.aborted) {
    const remainingMs = deadlineMs - Date.now();
    if (remainingMs <= 0) deadlinePassed = true;
    else timer = setTimeout(() => {
      deadlinePassed = true;
      controller.abort();
    }, remainingMs);
  }
  if (deadlinePassed) controller.abort();
  return new Promise((resolve, reject) => {
    const settle = (): void => {
      clearTimeout(timer);
      caller?.removeEventListener('abort', onCancel);
      controller.signal.removeEventListener('abort', gaveUp);
    };
    const gaveUp = (): void => {
      settle();
      reject(callerGaveUp(deadlinePassed));
    };
    if (controller.signal.aborted) {
      // Like a call whose deadline passed before it reached the server: nothing runs.
      gaveUp();
      return;
    }
    controller.signal.addEventListener('abort', gaveUp, { once: true });
    serveInProcess(method, request, options.metadata ?? NO_METADATA, controller.signal).then(
      (response) => {
        settle();
        resolve(response);
      },
      (error: unknown) => {
        settle();
        reject(error);
      },
    );
  });
}

/** serveUnary for a caller in this process: the same steps, objects in and out, the mapped error thrown. */
async function serveInProcess(method: InProcessMethod, request: unknown, metadata: Metadata, signal: AbortSignal): Promise<unknown> {
  const startedAtMs = method.metrics.start();
  const { span, context: traceContext } = startServerSpan(method.path, metadata, metadataTraceHeaders, inProcessPeer);
  const callContext = new InProcessCallContext(metadata, signal, method.shutdownSignal);
  let response: unknown;
  try {
    response = await otelContext.with(traceContext, answerInProcess, undefined, method, request, callContext);
    if (response === undefined || response === null) throw new Error(`${method.path} returned no response`);
    response = method.normalizeResponse(response);
  } catch (error) {
    const mapped = otelContext.with(traceContext, mapError, undefined, error, method.path, signal.aborted, method.logger);
    const code = statusOf(mapped);
    const details = mapped instanceof ServerError ? mapped.details : code === Status.CANCELLED ? 'The operation was cancelled' : 'Unknown server error occurred';
    method.metrics.finish(code, startedAtMs);
    endServerSpan(span, code, details);
    throw mapped instanceof ServerError ? mapped : new ServerError(code, details);
  }
  method.metrics.finish(Status.OK, startedAtMs);
  endServerSpan(span, Status.OK);
  return response;
}

function answerInProcess(method: InProcessMethod, request: unknown, callContext: InProcessCallContext): unknown {
  if (callContext.signal.aborted) throw callEndedBeforeStart();
  const decoded = method.normalizeRequest(request);
  if (method.authenticator === undefined) return method.implementation(decoded, callContext as never);
  const principal = authenticate(method.authenticator, callContext.metadata.get('authorization') as string | undefined);
  if (principal instanceof Promise) return principal.then((verified) => authorized(method, decoded, callContext, verified));
  return authorized(method, decoded, callContext, principal);
}

/** ts-proto's `fromPartial` of a message type, when the definition is ts-proto's (other definitions pass objects as they are). */
export function fromPartialOf(messageType: unknown): (message: unknown) => unknown {
  const fromPartial = (messageType as { fromPartial?: unknown } | undefined)?.fromPartial;
  return typeof fromPartial === 'function' ? (message) => (fromPartial as (m: unknown) => unknown).call(messageType, message) : asIs;
}
