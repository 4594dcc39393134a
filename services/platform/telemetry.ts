// OpenTelemetry wiring. A tracer provider is registered even without an exporter so every call has trace and span
// ids (in logs, in message headers) and W3C trace context flows gRPC → RabbitMQ → worker; exporting spans is opt-in:
// `console` for local debugging, `otlp` when the OTLP exporter package is installed and an endpoint is configured.
//
// The SERVER span of a unary call is started here (`startServerSpan`) rather than by nice-grpc-opentelemetry,
// because it sits on every call. When spans are exported it is a real SDK span (recorded as the sampler decides)
// with the name and attributes nice-grpc-opentelemetry gives it. When nothing is exported, recording a span is
// pure cost (no processor ever sees it), so the call gets a non-recording span instead: the caller's trace id (or a
// fresh one), a fresh span id, and the sampling flag the ParentBased sampler would have chosen. We chose this over
// skipping the span altogether: logs keep their trace and span ids, and the trace context still flows into peer
// calls and message headers (gRPC → RabbitMQ → worker) exactly as before, so turning an exporter on in one service
// never finds broken traces upstream. Server-streaming calls get the same span, ended by `endStreamSpan` with the
// number of messages sent rather than an event per message. Client- and bidi-streaming calls, few and long, keep
// nice-grpc-opentelemetry's middleware (it records one event per message).
import {
  context,
  isSpanContextValid,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Attributes,
  type Context,
  type Span,
  type SpanContext,
  type TextMapGetter,
  type TextMapSetter,
  type TraceState,
} from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { isIP } from 'node:net';
import { RandomIdGenerator } from '@opentelemetry/sdk-trace-base';
import {
  BatchSpanProcessor,
  ConsoleSpanExporter,
  NodeTracerProvider,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-node';
import { Metadata, Status, type ClientMiddleware, type ServerMiddleware } from 'nice-grpc-common';
import { openTelemetryClientMiddleware, openTelemetryServerMiddleware } from 'nice-grpc-opentelemetry';

export type TraceExporterKind = 'none' | 'console' | 'otlp';

export interface TelemetrySettings {
  serviceName: string;
  exporter: TraceExporterKind;
  /** OTLP/HTTP traces endpoint, e.g. `http://collector:4318/v1/traces`; required for `otlp`. */
  otlpEndpoint?: string;
  /** Fraction of new traces sampled, 0..1 (a sampled parent is always followed). */
  sampleRatio?: number;
}

export interface Telemetry {
  /** Flushes pending spans and stops exporting. */
  shutdown(): Promise<void>;
}

const OTLP_EXPORTER_PACKAGE = '@opentelemetry/exporter-trace-otlp-http';
let active: Telemetry | undefined;
/** Whether spans leave the process; decides whether a new server trace needs a recorded span. */
let exporting = false;
/** Root sampling ratio of the registered provider, for the flag of unrecorded new traces. */
let rootSampleRatio = 1;

/**
 * Registers the process-wide tracer provider, context manager and W3C propagator. The first call wins: one process
 * has one provider, so later calls (several services started in one process) return the same handle.
 */
export function setupTelemetry(settings: TelemetrySettings): Telemetry {
  if (active !== undefined) return active;
  const spanProcessors: SpanProcessor[] = [];
  const exporter = createExporter(settings);
  if (exporter !== undefined) spanProcessors.push(new BatchSpanProcessor(exporter));
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': settings.serviceName }),
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(settings.sampleRatio ?? 1) }),
    spanProcessors,
  });
  provider.register();
  exporting = exporter !== undefined;
  rootSampleRatio = settings.sampleRatio ?? 1;
  const handle: Telemetry = {
    async shutdown() {
      await provider.shutdown();
      if (active === handle) {
        active = undefined;
        exporting = false;
        rootSampleRatio = 1;
      }
    },
  };
  active = handle;
  return handle;
}

function createExporter(settings: TelemetrySettings): SpanExporter | undefined {
  switch (settings.exporter) {
    case 'none':
      return undefined;
    case 'console':
      return new ConsoleSpanExporter();
    case 'otlp': {
      if (settings.otlpEndpoint === undefined) throw new Error('the otlp trace exporter needs an endpoint');
      let exporterModule: { OTLPTraceExporter: new (config: { url: string }) => SpanExporter };
      try {
        // Loaded on demand: the exporter is an optional install, only deployments that ship traces need it.
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        exporterModule = require(OTLP_EXPORTER_PACKAGE);
      } catch {
        throw new Error(`the otlp trace exporter needs the package ${OTLP_EXPORTER_PACKAGE} installed`);
      }
      return new exporterModule.OTLPTraceExporter({ url: settings.otlpEndpoint });
    }
  }
}

/** Server middleware: one SERVER span per RPC, continuing the caller's trace from the metadata (client and bidi streams). */
export function telemetryServerMiddleware(): ServerMiddleware {
  return openTelemetryServerMiddleware();
}

/** The SERVER span of a call and the context to run its handler in. */
export interface ServerSpan {
  readonly span: Span;
  readonly context: Context;
}

const serverTracer = trace.getTracer('nice-grpc-opentelemetry');
const idGenerator = new RandomIdGenerator();

/**
 * The span context of an unrecorded server span. Its ids are drawn when first read (a log line, a peer call, a
 * published message): most calls read neither, and drawing them is a visible share of a small call's cost.
 */
class UnrecordedSpanContext implements SpanContext {
  private drawnTraceId: string | undefined;
  private drawnSpanId: string | undefined;

  constructor(
    callerTraceId: string | undefined,
    readonly traceFlags: number,
    readonly traceState: TraceState | undefined,
  ) {
    this.drawnTraceId = callerTraceId;
  }

  get traceId(): string {
    this.drawnTraceId ??= idGenerator.generateTraceId();
    return this.drawnTraceId;
  }

  get spanId(): string {
    this.drawnSpanId ??= idGenerator.generateSpanId();
    return this.drawnSpanId;
  }
}

/**
 * Starts the SERVER span of a unary or server-streaming call to `path`, continuing the trace in the call's headers (`carrier` read
 * through `getter`); `peerOf` gives the caller's `host:port`, read only for a recorded span. See the header
 * comment for when the span is recorded.
 */
export function startServerSpan<Carrier>(
  path: string,
  carrier: Carrier,
  getter: TextMapGetter<Carrier>,
  peerOf: (carrier: Carrier) => string,
): ServerSpan {
  const parent = propagation.extract(ROOT_CONTEXT, carrier, getter);
  let span: Span;
  if (exporting) {
    span = serverTracer.startSpan(path.slice(1), { kind: SpanKind.SERVER }, parent);
    if (span.isRecording()) span.setAttributes(serverSpanAttributes(path, peerOf(carrier)));
  } else {
    // What the ParentBased sampler would decide: follow the caller's flag, or sample a new trace at the root ratio.
    const caller = trace.getSpanContext(parent);
    span = trace.wrapSpanContext(
      new UnrecordedSpanContext(
        caller?.traceId,
        caller?.traceFlags ?? (Math.random() < rootSampleRatio ? TraceFlags.SAMPLED : TraceFlags.NONE),
        caller?.traceState,
      ),
    );
  }
  return { span, context: trace.setSpan(parent, span) };
}

/** Ends a span started by `startServerSpan` with the call's final status. */
export function endServerSpan(span: Span, code: Status, errorMessage?: string): void {
  if (!span.isRecording()) return;
  span.setAttributes({ 'rpc.grpc.status_code': code, 'rpc.grpc.status_text': Status[code] });
  if (code !== Status.OK) span.setStatus({ code: SpanStatusCode.ERROR, message: `${Status[code]}: ${errorMessage ?? ''}` });
  span.end();
}

/**
 * Ends the SERVER span of a server-streaming call: its final status and, instead of an event per message (which
 * costs a call and an object per frame on a feed of thousands of frames a second), the number of messages sent.
 */
export function endStreamSpan(span: Span, code: Status, messagesSent: number, errorMessage?: string): void {
  if (span.isRecording()) span.setAttribute('rpc.grpc.messages_sent', messagesSent);
  endServerSpan(span, code, errorMessage);
}

/** The attributes nice-grpc-opentelemetry puts on a server span (OpenTelemetry RPC semantic conventions). */
function serverSpanAttributes(path: string, peer: string): Attributes {
  const [, service, method] = path.split('/');
  const attributes: Attributes = { 'rpc.system': 'grpc', 'rpc.service': service, 'rpc.method': method };
  const colon = peer.lastIndexOf(':');
  const port = colon === -1 ? NaN : Number(peer.slice(colon + 1));
  if (Number.isNaN(port)) {
    attributes['net.peer.name'] = peer;
    return attributes;
  }
  const host = peer.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  attributes[isIP(host) === 0 ? 'net.peer.name' : 'net.peer.ip'] = host;
  attributes['net.peer.port'] = port;
  return attributes;
}

/** Client middleware: one CLIENT span per RPC, with the trace context sent in the metadata. */
export function telemetryClientMiddleware(): ClientMiddleware {
  return openTelemetryClientMiddleware();
}

const metadataSetter: TextMapSetter<Metadata> = { set: (metadata, key, value) => void metadata.set(key, value) };
const clientSpanMiddleware = openTelemetryClientMiddleware();

/**
 * Client middleware of the calls between services (runtime.ts peer clients, over gRPC or in-process): sends the W3C
 * trace context of the active context (`traceparent`, `tracestate`) in the call's metadata, so the callee's SERVER
 * span continues the caller's trace. A `traceparent` the caller put in the call's metadata is sent as it is.
 *
 * Like `startServerSpan`, it records a span only when spans are exported: then a unary call gets the CLIENT span of
 * nice-grpc-opentelemetry and the callee's span is its child. Otherwise no span is made and the active span's
 * context (usually the unrecorded SERVER span of the call being handled) is sent as it is: a header on a copy of the
 * metadata, nothing when no trace is active. Streaming calls never get a CLIENT span (it would record an event per
 * message of a long feed); they carry the active context too.
 */
export function traceContextClientMiddleware(): ClientMiddleware {
  return (call, options) => {
    if (options.metadata?.has('traceparent') === true) return call.next(call.request, options);
    if (exporting && !call.requestStream && !call.responseStream) return clientSpanMiddleware(call, options);
    const active = context.active();
    const spanContext = trace.getSpanContext(active);
    if (spanContext === undefined || !isSpanContextValid(spanContext)) return call.next(call.request, options);
    // A copy: the default metadata (the service token) is shared by every call of the client.
    const metadata = Metadata(options.metadata);
    propagation.inject(active, metadata, metadataSetter);
    return call.next(call.request, { ...options, metadata });
  };
}

const headerGetter: TextMapGetter<Record<string, unknown>> = {
  keys: (carrier) => Object.keys(carrier),
  get(carrier, key) {
    const value = carrier[key];
    if (value === undefined || value === null) return undefined;
    // amqplib hands header values back as Buffers or strings depending on how they were published.
    return Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
  },
};

/** Adds `traceparent` (and `tracestate`) of `ctx` to message headers, e.g. before publishing to RabbitMQ. */
export function injectTraceContext(
  headers: Record<string, string> = {},
  ctx: Context = context.active(),
): Record<string, string> {
  propagation.inject(ctx, headers);
  return headers;
}

/** The trace context carried by message headers, to parent a consumer's span. */
export function extractTraceContext(headers: Record<string, unknown>): Context {
  return propagation.extract(ROOT_CONTEXT, headers, headerGetter);
}

const tracer = trace.getTracer('tradeplane');

/**
 * Runs `work` in a CONSUMER span that continues the trace found in `headers` (a queue worker's entry point), and
 * records a failure on the span before rethrowing it.
 */
export function inConsumerSpan<T>(name: string, headers: Record<string, unknown>, work: () => Promise<T>): Promise<T> {
  return tracer.startActiveSpan(name, { kind: SpanKind.CONSUMER }, extractTraceContext(headers), async (span) => {
    try {
      return await work();
    } catch (error) {
      span.recordException(error instanceof Error ? error : String(error));
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
      throw error;
    } finally {
      span.end();
    }
  });
}
