// Assembles the gRPC server every tradeplane service runs in: nice-grpc service implementations and middleware,
// health and reflection, explicit message-size and keepalive limits, and a graceful shutdown. The platform's work
// on every call, outermost first: telemetry → metrics → error mapping → deadline check → shutdown signal → auth →
// rate limit. Metrics sit outside the error mapping so they count the status the client really gets; auth and rate
// limiting apply to the application services only, never to health or reflection.
//
// Unary calls, nearly all the traffic, are answered here without nice-grpc's generic call machinery: one handler
// per method runs those steps as plain function calls (telemetry.ts, metrics.ts, error-mapping.ts, auth.ts,
// rate-limit.ts) with a call context whose parts are built only when a handler reads them. A chain of async
// generator middleware, nice-grpc's per-call AbortController, listeners and metadata copies cost more CPU than
// grpc-js itself on a small call. Server-streaming calls (quote feeds with thousands of subscribers) get the same
// treatment: the steps run once before the first frame, then frames go straight to grpc-js. Client- and
// bidi-streaming calls, few and long, keep nice-grpc's own handlers with the same steps as middleware. Handlers see
// the same context and the same statuses, details and trailers either way.
//
// `invokeUnary` runs that same unary pipeline for a caller in this process (the HTTP bridge in the one-process
// mode): the request object goes straight to the handler and the response object comes straight back, without
// protobuf encoding or HTTP/2, and a failure is thrown as the ServerError (RichServerError with its google.rpc
// details) a remote caller would have received. Auth reads the caller's own `authorization` metadata, so what a
// caller may do does not depend on where it sits.
import * as grpc from '@grpc/grpc-js';
import { context as otelContext, type Span, type TextMapGetter } from '@opentelemetry/api';
import type { CompatServiceDefinition, MethodDefinition, ServiceImplementation } from 'nice-grpc';
import {
  composeServerMiddleware,
  Metadata,
  ServerError,
  Status,
  type CallContext,
  type ServerMiddleware,
} from 'nice-grpc-common';
import {
  ANONYMOUS_PRINCIPAL,
  authenticate,
  createAuthMiddleware,
  isAuthExempt,
  type AuthCallContext,
  type Authenticator,
  type Principal,
} from './auth';
import { createErrorMappingMiddleware, mapError, writeErrorDetails } from './error-mapping';
import { createHealthRegistry, HealthDefinition, type Probe, type ServingStatus } from './health';
import type { Logger } from './logger';
import { createMetricsMiddleware, rpcMetricsOf, statusOf, type RpcMetrics } from './metrics';
import {
  createRateLimiter,
  createRateLimitMiddleware,
  enforceRateLimit,
  type RateLimiter,
  type RateLimitSettings,
} from './rate-limit';
import { createReflectionServices, DEFAULT_DESCRIPTOR_SET_PATH } from './reflection';
import { createShutdownControl, type ShutdownCallContext, type ShutdownControl, type ShutdownWatcher } from './shutdown-middleware';
import { endServerSpan, endStreamSpan, startServerSpan, telemetryServerMiddleware } from './telemetry';

/**
 * What every application handler finds on its call context (besides `signal`, `metadata`, ...). The context of a
 * unary call builds its parts on first read: pass it on or read its members, but do not spread it (`{ ...context }`).
 */
export type TradeplaneCallContext = AuthCallContext & ShutdownCallContext;

export interface KeepaliveSettings {
  /** Idle time after which the server pings a connection to check it is alive. */
  timeMs: number;
  /** How long the server waits for the ping's answer before closing the connection. */
  timeoutMs: number;
  /** Closes connections without calls after this long (unset: never). */
  maxConnectionIdleMs?: number;
  /** Closes every connection after this long so clients rebalance across instances (unset: never). */
  maxConnectionAgeMs?: number;
  /** Time granted to calls on a connection closed for its age. */
  maxConnectionAgeGraceMs?: number;
}

export interface GrpcServerOptions {
  logger: Logger;
  authenticator: Authenticator;
  /** Per-principal limit; `ratePerSecond: 0` turns it off. */
  rateLimit: RateLimitSettings;
  maxReceiveMessageBytes: number;
  maxSendMessageBytes: number;
  keepalive: KeepaliveSettings;
  /** Concurrent streams (calls) per connection. */
  maxConcurrentStreams?: number;
  probeIntervalMs?: number;
  probeTimeoutMs?: number;
  /** Descriptor set served by reflection; defaults to generated/tradeplane.binpb. */
  descriptorSetPath?: string;
}

export interface AddOptions {
  /** Checks the service's dependencies; drives its grpc.health.v1 status. */
  probe?: Probe;
}

export interface ShutdownOptions {
  /** Time in-flight calls and streams get to finish before they are cancelled. */
  graceMs?: number;
}

/** How a caller in this process calls a unary method (`invokeUnary`). */
export interface InProcessCallOptions {
  /** What a remote caller would send as metadata: `authorization`, `traceparent`, `x-request-id`, ... */
  metadata?: Metadata;
  /** Cancels the call, as a remote client's cancellation would (the invocation rejects with CANCELLED). */
  signal?: AbortSignal;
  /** The call's deadline (epoch ms or Date): the handler's signal aborts then and the invocation rejects with DEADLINE_EXCEEDED. */
  deadline?: Date | number;
}

export interface TradeplaneServer {
  add<S extends CompatServiceDefinition>(
    definition: S,
    implementation: ServiceImplementation<S, TradeplaneCallContext>,
    options?: AddOptions,
  ): void;
  /** Binds `host:port` (port 0 picks a free one), runs the first health probes, and returns the bound port. */
  listen(host: string, port: number): Promise<number>;
  /** True when an application service added here implements `path` (`/pkg.Service/Method`) as a unary method. */
  servesUnary(path: string): boolean;
  /**
   * Calls a unary method of a service added here, through the same pipeline as a gRPC call (telemetry, metrics,
   * error mapping, deadline, auth from `metadata`, rate limit), and returns its response object as a remote caller
   * would decode it. Throws the ServerError (RichServerError with details) a remote caller would get. Serves only
   * while the server is listening, like the gRPC port.
   */
  invokeUnary(path: string, request: unknown, options?: InProcessCallOptions): Promise<unknown>;
  /** grpc.health.v1 status of a fully-qualified service name, or of the whole server for "". */
  healthStatus(service?: string): ServingStatus;
  /** Reports NOT_SERVING for every service, so load balancers stop sending new calls. */
  drain(): void;
  /** Drains, ends streams, stops accepting, waits up to `graceMs` for in-flight calls, then cancels the rest. */
  shutdown(options?: ShutdownOptions): Promise<void>;
}

const DEFAULT_GRACE_MS = 10_000;

type AnyMethodDefinition = MethodDefinition<any, any, any, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
type MethodImplementation = (request: unknown, context: never) => unknown;
type StreamingHandlerFactory = (
  definition: AnyMethodDefinition,
  implementation: MethodImplementation,
  middleware: ServerMiddleware<any, any> | undefined, // eslint-disable-line @typescript-eslint/no-explicit-any
) => grpc.UntypedHandleCall;

// Client- and bidi-streaming calls: nice-grpc's own handlers with the platform middleware chain.

/**
 * nice-grpc keeps its per-kind call handlers and its definition conversions in lib/ without public types. Client and
 * bidi streams are served by exactly those handlers (their write backpressure and cancellation rules are subtle), so they are
 * loaded here, checked once, and typed by what they are.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const niceGrpcDefinitions = require('nice-grpc/lib/service-definitions') as {
  normalizeServiceDefinition(definition: CompatServiceDefinition): Record<string, AnyMethodDefinition>;
  toGrpcJsMethodDefinition(definition: AnyMethodDefinition): grpc.MethodDefinition<unknown, unknown>;
};
const streamingHandlerFactories = {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  client: require('nice-grpc/lib/server/handleClientStreamingCall').createClientStreamingMethodHandler as StreamingHandlerFactory,
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  bidi: require('nice-grpc/lib/server/handleBidiStreamingCall').createBidiStreamingMethodHandler as StreamingHandlerFactory,
};
for (const internal of [niceGrpcDefinitions.normalizeServiceDefinition, niceGrpcDefinitions.toGrpcJsMethodDefinition, ...Object.values(streamingHandlerFactories)]) {
  if (typeof internal !== 'function') throw new Error('this nice-grpc version lacks the server internals tradeplane uses');
}

/** Refuses work whose deadline passed (or whose client left) before it started; handlers watch `signal` after. */
const deadlineCheckMiddleware: ServerMiddleware = async function* deadlineCheck(call, context) {
  if (context.signal.aborted) throw callEndedBeforeStart();
  return yield* call.next(call.request, context);
};

function callEndedBeforeStart(): ServerError {
  return new ServerError(Status.CANCELLED, 'the call was cancelled or its deadline passed before it started');
}

// Server-streaming calls (quote feeds, order event logs, health Watch): one grpc-js handler per method, like unary
// calls. The platform steps run once, as plain calls, before the first frame; then each frame the implementation
// yields goes straight to grpc-js's writable stream (encoded there once), waiting for 'drain' when it pushes back.
// Per frame that is one iterator step and one write, where nice-grpc's handler and seven middleware generators
// cost several async hops (and a span event) each; per stream it is one context object, one 'cancelled'
// listener and one AbortController, built only when the handler reads `signal`.

type ServerStreamCall = grpc.ServerWritableStream<unknown, unknown>;

/**
 * What the call contexts of calls served straight on grpc-js share: the caller's metadata converted when first read,
 * the headers and trailers a handler writes, sent once. Built per call, so nothing is allocated until it is used.
 */
abstract class GrpcJsCallContext<Call extends ServerStreamCall | UnaryCall> {
  principal: Principal = ANONYMOUS_PRINCIPAL;
  private metadataRead: Metadata | undefined;
  private headerWritten: Metadata | undefined;
  private trailerWritten: Metadata | undefined;
  private headerSent = false;

  constructor(protected readonly call: Call) {}

  get metadata(): Metadata {
    this.metadataRead ??= metadataFromGrpcJs(this.call.metadata);
    return this.metadataRead;
  }

  get peer(): string {
    return this.call.getPeer();
  }

  get header(): Metadata {
    this.headerWritten ??= Metadata();
    return this.headerWritten;
  }

  get trailer(): Metadata {
    this.trailerWritten ??= Metadata();
    return this.trailerWritten;
  }

  sendHeader(): void {
    if (this.headerSent) return;
    this.headerSent = true;
    if (this.headerWritten !== undefined && !isEmpty(this.headerWritten)) {
      this.call.sendMetadata(metadataToGrpcJs(this.headerWritten));
    }
  }

  protected trailerToSend(): grpc.Metadata | undefined {
    return this.trailerWritten === undefined ? undefined : metadataToGrpcJs(this.trailerWritten);
  }
}


/** A response message whose bytes the handler encoded itself (see `preEncoded`). */
class PreEncodedMessage {
  constructor(readonly bytes: Buffer) {}
}

/**
 * A server-streaming response given as its encoded bytes, written as they are. A feed that sends the same content
 * to thousands of subscribers encodes the shared part once instead of once per subscriber. Yield it where the
 * implementation's type expects the message object; only server-streaming methods served here accept it.
 */
export function preEncoded<Message>(bytes: Uint8Array): Message {
  const buffer = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return new PreEncodedMessage(buffer) as unknown as Message;
}

/** The grpc-js definition of a server-streaming method, with responses given by `preEncoded` passed through. */
function acceptingPreEncoded(definition: grpc.MethodDefinition<unknown, unknown>): grpc.MethodDefinition<unknown, unknown> {
  const serialize = definition.responseSerialize;
  return { ...definition, responseSerialize: (value) => (value instanceof PreEncodedMessage ? value.bytes : serialize(value)) };
}

/** Everything the handler of one server-streaming method needs: a unary method's fixed parts and the shutdown hooks. */
interface ServerStreamMethod extends UnaryMethod {
  readonly shutdown: ShutdownControl;
}

/**
 * The reason a stream's signals abort with. Aborting without one makes a DOMException with a stack trace per call,
 * which thousands of streams ending at once feel; one shared AbortError tells handlers the same thing.
 */
const STREAM_ABORTED = new DOMException('the call was cancelled or the server is shutting down', 'AbortError');

/**
 * The call context of a server-streaming call: nice-grpc's CallContext plus the platform's members. Its `signal`
 * aborts when the client cancels or the deadline passes, and at shutdown too once the handler asked for that with
 * `abortOnTerminate()`. Its `shutdownSignal` is the call's own, aborted by the server's shutdown control, so that a
 * handler listening on it costs the same with ten thousand streams open as with one.
 */
class StreamCallContext extends GrpcJsCallContext<ServerStreamCall> implements CallContext, TradeplaneCallContext, ShutdownWatcher {
  /** Shutdown aborted `signal` (abortOnTerminate): an AbortError the handler then throws ends the stream with OK. */
  terminated = false;
  private controller: AbortController | undefined;
  private shutdownController: AbortController | undefined;
  private terminateOnShutdown = false;
  private watching = false;

  constructor(
    call: ServerStreamCall,
    private readonly shutdown: ShutdownControl,
  ) {
    super(call);
    call.once('cancelled', this.onCancelled);
  }

  private readonly onCancelled = (): void => this.controller?.abort(STREAM_ABORTED);

  onShutdown(): void {
    this.shutdownController?.abort(STREAM_ABORTED);
    if (!this.terminateOnShutdown) return;
    this.terminated = true;
    this.controller ??= new AbortController();
    this.controller.abort(STREAM_ABORTED);
  }

  get shutdownSignal(): AbortSignal {
    if (this.shutdownController === undefined) {
      this.shutdownController = new AbortController();
      this.watchShutdown();
    }
    return this.shutdownController.signal;
  }

  private watchShutdown(): void {
    if (this.watching) return;
    this.watching = true;
    this.shutdown.watch(this);
  }


  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.call.cancelled) this.controller.abort(STREAM_ABORTED);
    }
    return this.controller.signal;
  }

  abortOnTerminate(): void {
    if (this.terminateOnShutdown) return;
    this.terminateOnShutdown = true;
    if (this.watching) {
      if (this.shutdownController?.signal.aborted === true) this.onShutdown();
    } else this.watchShutdown();
  }


  /** Lets go of the call's listeners, sends pending headers and returns the trailer to send. */
  end(): grpc.Metadata | undefined {
    this.call.off('cancelled', this.onCancelled);
    if (this.watching) this.shutdown.unwatch(this);
    this.sendHeader();
    return this.trailerToSend();
  }
}

const streamTraceHeaders: TextMapGetter<ServerStreamCall> = {
  get: (call, key) => headerOf(call.metadata, key),
  keys: (call) => Object.keys(call.metadata.getMap()),
};

const streamPeerOf = (call: ServerStreamCall): string => call.getPeer();

/** The grpc-js handler of a server-streaming method: the platform steps once, then the frames as they come. */
function serverStreamHandler(method: ServerStreamMethod): grpc.handleServerStreamingCall<unknown, unknown> {
  return (call) => {
    const startedAtMs = method.metrics.start();
    const { span, context: traceContext } = startServerSpan(method.path, call, streamTraceHeaders, streamPeerOf);
    // Every await of the stream continues in the call's trace context, so handler logs and peer calls carry it.
    otelContext
      .with(traceContext, serveServerStream, undefined, method, call, span, startedAtMs)
      .catch((error: unknown) => method.logger.error('failed to end a server stream', { method: method.path, err: error }));
  };
}

async function serveServerStream(method: ServerStreamMethod, call: ServerStreamCall, span: Span, startedAtMs: number): Promise<void> {
  const callContext = new StreamCallContext(call, method.shutdown);
  let framesSent = 0;
  try {
    if (call.cancelled) throw callEndedBeforeStart();
    if (method.authenticator !== undefined) {
      const principal = authenticate(method.authenticator, headerOf(call.metadata, 'authorization'));
      callContext.principal = principal instanceof Promise ? await principal : principal;
      if (method.limiter !== undefined) enforceRateLimit(method.limiter, callContext.principal);
    }
    const frames = (method.implementation(call.request, callContext as never) as AsyncIterable<unknown>)[Symbol.asyncIterator]();
    for (let next = await frames.next(); next.done !== true; next = await frames.next()) {
      callContext.sendHeader();
      try {
        if (!call.write(next.value)) await drainedOrCancelled(call);
      } catch (error) {
        await frames.return?.();
        throw error;
      }
      framesSent += 1;
      // After a cancellation writes go nowhere: stop the handler rather than let it produce frames for nobody.
      if (call.cancelled) {
        await frames.return?.();
        break;
      }
    }
  } catch (error) {
    // A stream the handler ended because of shutdown (abortOnTerminate) ends normally, like an exhausted one.
    if (!(callContext.terminated && isAbortError(error))) {
      await failServerStream(method, call, callContext, span, startedAtMs, framesSent, error);
      return;
    }
  }
  method.metrics.finish(Status.OK, startedAtMs);
  endStreamSpan(span, Status.OK, framesSent);
  call.end(callContext.end());
}

/** Resolves once grpc-js can take more frames, or once the client has gone (then nothing more is written). */
function drainedOrCancelled(call: ServerStreamCall): Promise<void> {
  if (call.cancelled) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      call.off('drain', done);
      call.off('cancelled', done);
      resolve();
    };
    call.once('drain', done);
    call.once('cancelled', done);
  });
}

async function failServerStream(
  method: ServerStreamMethod,
  call: ServerStreamCall,
  callContext: StreamCallContext,
  span: Span,
  startedAtMs: number,
  framesSent: number,
  error: unknown,
): Promise<void> {
  const mapped = mapError(error, method.path, call.cancelled, method.logger);
  await writeErrorDetails(mapped, callContext.trailer);
  const code = statusOf(mapped);
  const details = mapped instanceof ServerError ? mapped.details : code === Status.CANCELLED ? 'The operation was cancelled' : 'Unknown server error occurred';
  method.metrics.finish(code, startedAtMs);
  endStreamSpan(span, code, framesSent, details);
  const trailer = callContext.end();
  call.emit('error', { code, details, ...(trailer === undefined ? {} : { metadata: trailer }) });
}

function isAbortError(error: unknown): boolean {
  return error instanceof Error && error.name === 'AbortError';
}

// Unary calls: one grpc-js handler per method runs telemetry → metrics → error mapping → deadline check → auth →
// rate limit → the implementation as plain calls (see the header comment), with the context nice-grpc would give.

/** Everything the handler of one unary method needs, fixed when the server starts listening. */
interface UnaryMethod {
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

const noop = (): void => {};

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

function isEmpty(metadata: Metadata): boolean {
  for (const _entry of metadata) return false;
  return true;
}

/** The same copy nice-grpc makes of incoming metadata (multiple text values joined, binary ones kept apart). */
function metadataFromGrpcJs(source: grpc.Metadata): Metadata {
  const metadata = Metadata();
  for (const key of Object.keys(source.getMap())) metadata.set(key, source.get(key) as string[] | Uint8Array[]);
  return metadata;
}

function metadataToGrpcJs(source: Metadata): grpc.Metadata {
  const metadata = new grpc.Metadata();
  for (const [key, values] of source) {
    for (const value of values) metadata.add(key, typeof value === 'string' ? value : Buffer.from(value));
  }
  return metadata;
}

/** A text header as nice-grpc's Metadata.get would give it. */
function headerOf(metadata: grpc.Metadata, key: string): string | undefined {
  const values = metadata.get(key);
  if (values.length === 0) return undefined;
  return values.length === 1 ? String(values[0]) : values.join(', ');
}

const traceHeaders: TextMapGetter<UnaryCall> = {
  get: (call, key) => headerOf(call.metadata, key),
  keys: (call) => Object.keys(call.metadata.getMap()),
};

const peerOf = (call: UnaryCall): string => call.getPeer();

/** The grpc-js handler of a unary method: the platform steps in order, as plain calls. */
function unaryHandler(method: UnaryMethod): grpc.handleUnaryCall<unknown, unknown> {
  return (call, callback) => {
    // serveUnary answers every failure of the handler itself; this only catches a bug in the answering.
    serveUnary(method, call, callback).catch((error: unknown) => {
      method.logger.error('failed to answer a unary call', { method: method.path, err: error });
    });
  };
}

async function serveUnary(method: UnaryMethod, call: UnaryCall, callback: grpc.sendUnaryData<unknown>): Promise<void> {
  const startedAtMs = method.metrics.start();
  const { span, context: traceContext } = startServerSpan(method.path, call, traceHeaders, peerOf);
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

function authorized(method: UnaryMethod, request: unknown, callContext: AuthCallContext, principal: Principal): unknown {
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

// In-process unary calls: the same steps for a caller in this process, with request and response objects.

/** A unary method served in this process, with the ts-proto normalizers that stand in for decode/encode. */
interface InProcessMethod extends UnaryMethod {
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
function invokeInProcess(method: InProcessMethod, request: unknown, options: InProcessCallOptions): Promise<unknown> {
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
function fromPartialOf(messageType: unknown): (message: unknown) => unknown {
  const fromPartial = (messageType as { fromPartial?: unknown } | undefined)?.fromPartial;
  return typeof fromPartial === 'function' ? (message) => (fromPartial as (m: unknown) => unknown).call(messageType, message) : asIs;
}

function channelOptionsOf(options: GrpcServerOptions): grpc.ChannelOptions {
  const { keepalive } = options;
  const channel: grpc.ChannelOptions = {
    'grpc.max_receive_message_length': options.maxReceiveMessageBytes,
    'grpc.max_send_message_length': options.maxSendMessageBytes,
    'grpc.keepalive_time_ms': keepalive.timeMs,
    'grpc.keepalive_timeout_ms': keepalive.timeoutMs,
  };
  if (keepalive.maxConnectionIdleMs !== undefined) channel['grpc.max_connection_idle_ms'] = keepalive.maxConnectionIdleMs;
  if (keepalive.maxConnectionAgeMs !== undefined) channel['grpc.max_connection_age_ms'] = keepalive.maxConnectionAgeMs;
  if (keepalive.maxConnectionAgeGraceMs !== undefined) {
    channel['grpc.max_connection_age_grace_ms'] = keepalive.maxConnectionAgeGraceMs;
  }
  if (options.maxConcurrentStreams !== undefined) channel['grpc.max_concurrent_streams'] = options.maxConcurrentStreams;
  return channel;
}

/** The service's fully-qualified name, from ts-proto's `fullName` or from the path of its first method. */
function serviceNameOf(definition: CompatServiceDefinition): string {
  const named = definition as { fullName?: unknown; methods?: Record<string, { path?: string }> };
  if (typeof named.fullName === 'string') return named.fullName;
  const methods = (named.methods ?? definition) as Record<string, { path?: string }>;
  const firstPath = Object.values(methods)[0]?.path ?? '';
  const match = /^\/([^/]+)\//.exec(firstPath);
  if (match === null) throw new Error('cannot tell the name of a service definition without methods');
  return match[1]!;
}

interface Registration {
  definition: CompatServiceDefinition;
  implementation: object;
  /** Application services are authenticated and rate limited; health and reflection are not. */
  application: boolean;
}

export function createGrpcServer(options: GrpcServerOptions): TradeplaneServer {
  const logger = options.logger.child({ component: 'grpc' });
  const health = createHealthRegistry({
    logger,
    ...(options.probeIntervalMs === undefined ? {} : { probeIntervalMs: options.probeIntervalMs }),
    ...(options.probeTimeoutMs === undefined ? {} : { probeTimeoutMs: options.probeTimeoutMs }),
  });
  const shutdownControl = createShutdownControl();
  const limiter = options.rateLimit.ratePerSecond > 0 ? createRateLimiter(options.rateLimit) : undefined;
  const streamMiddleware = composeAll(
    telemetryServerMiddleware(),
    createMetricsMiddleware(),
    createErrorMappingMiddleware({ logger }),
    deadlineCheckMiddleware,
    shutdownControl.middleware,
  );
  const applicationStreamMiddleware = composeAll(
    streamMiddleware,
    createAuthMiddleware(options.authenticator),
    ...(limiter === undefined ? [] : [createRateLimitMiddleware(limiter)]),
  );
  const registrations: Registration[] = [];
  const serviceNames: string[] = [];
  const inProcessMethods = new Map<string, InProcessMethod>();
  /** In-process calls still running, which shutdown gives the same grace as calls on the gRPC port. */
  const inProcessCalls = new Set<Promise<unknown>>();
  let server: grpc.Server | undefined;
  let state: 'building' | 'listening' | 'stopping' | 'stopped' = 'building';
  let stopping: Promise<void> | undefined;

  function handlerOf(method: AnyMethodDefinition, implementation: MethodImplementation, application: boolean) {
    if (!method.requestStream && method.responseStream) {
      return serverStreamHandler(serverStreamMethodOf(method.path, implementation, application)) as grpc.UntypedHandleCall;
    }
    if (method.requestStream || method.responseStream) {
      const factory = method.responseStream ? streamingHandlerFactories.bidi : streamingHandlerFactories.client;
      return factory(method, implementation, application ? applicationStreamMiddleware : streamMiddleware);
    }
    return unaryHandler(unaryMethodOf(method.path, implementation, application)) as grpc.UntypedHandleCall;
  }

  function unaryMethodOf(path: string, implementation: MethodImplementation, application: boolean): UnaryMethod {
    return { ...callMethodOf(path, implementation, application), metrics: rpcMetricsOf(path, false, false) };
  }

  function serverStreamMethodOf(path: string, implementation: MethodImplementation, application: boolean): ServerStreamMethod {
    return { ...callMethodOf(path, implementation, application), metrics: rpcMetricsOf(path, false, true), shutdown: shutdownControl };
  }

  /** What unary and server-streaming calls share: auth and rate limit for application methods, logger, shutdown. */
  function callMethodOf(path: string, implementation: MethodImplementation, application: boolean) {
    const authenticated = application && !isAuthExempt(path);
    return {
      path,
      implementation,
      authenticator: authenticated ? options.authenticator : undefined,
      limiter: authenticated ? limiter : undefined,
      logger,
      shutdownSignal: shutdownControl.shutdownSignal,
    };
  }

  /** Makes the unary methods of an application service callable in-process (`invokeUnary`). */
  function addInProcess(definition: CompatServiceDefinition, implementation: object): void {
    const tsProtoMethods = (definition as { methods?: Record<string, { requestType?: unknown; responseType?: unknown }> }).methods;
    for (const [name, method] of Object.entries(niceGrpcDefinitions.normalizeServiceDefinition(definition))) {
      if (method.requestStream || method.responseStream) continue;
      const implementationOf = (implementation as Record<string, MethodImplementation>)[name];
      if (typeof implementationOf !== 'function') continue; // listen() reports it
      inProcessMethods.set(method.path, {
        ...unaryMethodOf(method.path, implementationOf.bind(implementation), true),
        normalizeRequest: fromPartialOf(tsProtoMethods?.[name]?.requestType),
        normalizeResponse: fromPartialOf(tsProtoMethods?.[name]?.responseType),
      });
    }
  }

  function build(): grpc.Server {
    const built = new grpc.Server(channelOptionsOf(options));
    for (const { definition, implementation, application } of registrations) {
      const methods = niceGrpcDefinitions.normalizeServiceDefinition(definition);
      const grpcDefinition: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
      const handlers: grpc.UntypedServiceImplementation = {};
      for (const [name, method] of Object.entries(methods)) {
        const implementationOf = (implementation as Record<string, MethodImplementation>)[name];
        if (typeof implementationOf !== 'function') throw new Error(`no implementation of ${method.path}`);
        const grpcMethod = niceGrpcDefinitions.toGrpcJsMethodDefinition(method);
        grpcDefinition[name] = !method.requestStream && method.responseStream ? acceptingPreEncoded(grpcMethod) : grpcMethod;
        handlers[name] = handlerOf(method, implementationOf.bind(implementation), application);
      }
      built.addService(grpcDefinition, handlers);
    }
    return built;
  }

  return {
    add(definition, implementation, addOptions = {}) {
      if (state !== 'building') throw new Error('services must be added before listen()');
      const name = serviceNameOf(definition);
      health.register(name, addOptions.probe);
      registrations.push({ definition, implementation, application: true });
      serviceNames.push(name);
      addInProcess(definition, implementation);
    },

    servesUnary(path) {
      return inProcessMethods.has(path);
    },

    invokeUnary(path, request, callOptions = {}) {
      const method = inProcessMethods.get(path);
      if (method === undefined) return Promise.reject(new ServerError(Status.UNIMPLEMENTED, `${path} is not a unary method served in this process`));
      // As the gRPC port: nothing before listen(), nothing new once shutdown has begun.
      if (state !== 'listening') return Promise.reject(new ServerError(Status.UNAVAILABLE, 'the server is not serving'));
      const call = invokeInProcess(method, request, callOptions);
      inProcessCalls.add(call);
      const forget = (): void => void inProcessCalls.delete(call);
      call.then(forget, forget);
      return call;
    },

    async listen(host, port) {
      if (state !== 'building') throw new Error('listen() may be called once');
      state = 'listening';
      registrations.push({ definition: HealthDefinition, implementation: health.implementation, application: false });
      for (const reflection of createReflectionServices(serviceNames, options.descriptorSetPath ?? DEFAULT_DESCRIPTOR_SET_PATH)) {
        registrations.push({ definition: reflection.definition, implementation: reflection.implementation, application: false });
      }
      await health.start();
      const address = host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
      let bound: number;
      try {
        const candidate = build();
        bound = await new Promise<number>((resolve, reject) =>
          candidate.bindAsync(address, grpc.ServerCredentials.createInsecure(), (error, boundPort) =>
            error === null ? resolve(boundPort) : reject(error),
          ),
        );
        server = candidate;
      } catch (error) {
        // Nothing is served, so nothing is left to probe; the error (e.g. the port is taken) is the caller's to report.
        health.stop();
        state = 'stopped';
        throw error;
      }
      logger.info('gRPC server listening', { host, port: bound, services: serviceNames });
      return bound;
    },

    healthStatus(service = '') {
      return health.status(service);
    },

    drain() {
      if (!health.draining) logger.info('draining: reporting NOT_SERVING');
      health.drain();
    },

    shutdown(shutdownOptions = {}) {
      stopping ??= (async () => {
        const wasListening = state === 'listening';
        state = 'stopping';
        this.drain();
        shutdownControl.terminate();
        const graceMs = shutdownOptions.graceMs ?? DEFAULT_GRACE_MS;
        if (wasListening) await Promise.all([stopAccepting(graceMs), settleInProcessCalls(graceMs)]);
        state = 'stopped';
      })();
      return stopping;
    },
  };

  /** Waits up to `graceMs` for in-process calls in flight, as calls on the port get; later ones finish unobserved. */
  async function settleInProcessCalls(graceMs: number): Promise<void> {
    if (inProcessCalls.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...inProcessCalls]),
      new Promise((resolve) => {
        timer = setTimeout(resolve, graceMs);
      }),
    ]);
    clearTimeout(timer);
  }

  async function stopAccepting(graceMs: number): Promise<void> {
    const running = server;
    if (running === undefined) return;
    let timer: NodeJS.Timeout | undefined;
    const graceful = new Promise<'graceful'>((resolve, reject) =>
      running.tryShutdown((error) => (error === undefined ? resolve('graceful') : reject(error))),
    );
    const deadline = new Promise<'forced'>((resolve) => {
      timer = setTimeout(() => resolve('forced'), graceMs);
    });
    const outcome = await Promise.race([graceful, deadline]);
    clearTimeout(timer);
    if (outcome === 'forced') {
      logger.warn('shutdown grace period over: cancelling the remaining calls', { graceMs });
      running.forceShutdown();
      // The graceful shutdown completes once the forced close has torn every connection down.
      await graceful.catch(() => undefined);
    }
    logger.info('gRPC server stopped', { outcome });
  }
}

/** One middleware running `middleware` in order, outermost first. */
function composeAll(...middleware: ServerMiddleware<any, any>[]): ServerMiddleware<any, any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  return middleware.reduce((outer, inner) => composeServerMiddleware(outer, inner));
}
