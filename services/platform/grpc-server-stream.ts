// Server-streaming calls (quote feeds, order event logs, health Watch): one grpc-js handler per method, like unary
// calls. The platform steps run once, as plain calls, before the first frame; then each frame the implementation
// yields goes straight to grpc-js's writable stream (encoded there once), waiting for 'drain' when it pushes back.
// Per frame that is one iterator step and one write, where nice-grpc's handler and seven middleware generators
// cost several async hops (and a span event) each; per stream it is one context object, one 'cancelled'
// listener and one AbortController, built only when the handler reads `signal`.
import type * as grpc from '@grpc/grpc-js';
import { context as otelContext, type Span } from '@opentelemetry/api';
import { ServerError, Status, type CallContext } from 'nice-grpc-common';
import { authenticate } from './auth';
import { mapError, writeErrorDetails } from './error-mapping';
import {
  callEndedBeforeStart,
  callTraceHeaders,
  GrpcJsCallContext,
  headerOf,
  peerOfCall,
  type TradeplaneCallContext,
} from './grpc-server-call-context';
import type { UnaryMethod } from './grpc-server-unary';
import { statusOf } from './metrics';
import { enforceRateLimit } from './rate-limit';
import type { ShutdownControl, ShutdownWatcher } from './shutdown-middleware';
import { endStreamSpan, startServerSpan } from './telemetry';

type ServerStreamCall = grpc.ServerWritableStream<unknown, unknown>;

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
export function acceptingPreEncoded(definition: grpc.MethodDefinition<unknown, unknown>): grpc.MethodDefinition<unknown, unknown> {
  const serialize = definition.responseSerialize;
  return { ...definition, responseSerialize: (value) => (value instanceof PreEncodedMessage ? value.bytes : serialize(value)) };
}

/** Everything the handler of one server-streaming method needs: a unary method's fixed parts and the shutdown hooks. */
export interface ServerStreamMethod extends UnaryMethod {
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

/** The grpc-js handler of a server-streaming method: the platform steps once, then the frames as they come. */
export function serverStreamHandler(method: ServerStreamMethod): grpc.handleServerStreamingCall<unknown, unknown> {
  return (call) => {
    const startedAtMs = method.metrics.start();
    const { span, context: traceContext } = startServerSpan(method.path, call, callTraceHeaders, peerOfCall);
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
