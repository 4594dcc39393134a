// OpenTelemetry wiring. A tracer provider is registered even without an exporter so every call has trace and span
// ids (in logs, in message headers) and W3C trace context flows gRPC → RabbitMQ → worker; exporting spans is opt-in:
// `console` for local debugging, `otlp` when the OTLP exporter package is installed and an endpoint is configured.
import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Context,
  type TextMapGetter,
} from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  ConsoleSpanExporter,
  NodeTracerProvider,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-node';
import type { ClientMiddleware, ServerMiddleware } from 'nice-grpc-common';
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
  const handle: Telemetry = {
    async shutdown() {
      await provider.shutdown();
      if (active === handle) active = undefined;
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

/** Server middleware: one SERVER span per RPC, continuing the caller's trace from the metadata. */
export function telemetryServerMiddleware(): ServerMiddleware {
  return openTelemetryServerMiddleware();
}

/** Client middleware: one CLIENT span per RPC, with the trace context sent in the metadata. */
export function telemetryClientMiddleware(): ClientMiddleware {
  return openTelemetryClientMiddleware();
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
