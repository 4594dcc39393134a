// Prometheus metrics for the whole process: one registry, default process metrics, and RPC counters and latency
// histograms labelled by service, method and status code (the names follow go-grpc-prometheus, so existing
// dashboards work). Metric children are cached per method and code because label lookups sit on every call.
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import { ServerError, Status, type ServerMiddleware } from 'nice-grpc-common';

/** The one registry of this process; other modules register their own metrics here. */
export const metricsRegistry = new Registry();
collectDefaultMetrics({ register: metricsRegistry });

const started = new Counter({
  name: 'grpc_server_started_total',
  help: 'RPCs started on the server.',
  labelNames: ['grpc_service', 'grpc_method', 'grpc_type'] as const,
  registers: [metricsRegistry],
});

const handled = new Counter({
  name: 'grpc_server_handled_total',
  help: 'RPCs completed on the server, by status code.',
  labelNames: ['grpc_service', 'grpc_method', 'grpc_type', 'grpc_code'] as const,
  registers: [metricsRegistry],
});

const handlingSeconds = new Histogram({
  name: 'grpc_server_handling_seconds',
  help: 'Time from the start of an RPC to its status, in seconds.',
  labelNames: ['grpc_service', 'grpc_method', 'grpc_type', 'grpc_code'] as const,
  buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [metricsRegistry],
});

interface MethodMetrics {
  started: { inc(): void };
  byCode: Map<Status, { handled: { inc(): void }; seconds: { observe(value: number): void } }>;
  labels: { grpc_service: string; grpc_method: string; grpc_type: string };
}

const methods = new Map<string, MethodMetrics>();

function methodMetrics(path: string, requestStream: boolean, responseStream: boolean): MethodMetrics {
  let entry = methods.get(path);
  if (entry === undefined) {
    const [, service = 'unknown', method = 'unknown'] = /^\/([^/]+)\/([^/]+)$/.exec(path) ?? [];
    const type = requestStream
      ? responseStream
        ? 'bidi_stream'
        : 'client_stream'
      : responseStream
        ? 'server_stream'
        : 'unary';
    const labels = { grpc_service: service, grpc_method: method, grpc_type: type };
    entry = { started: started.labels(labels), byCode: new Map(), labels };
    methods.set(path, entry);
  }
  return entry;
}

function record(entry: MethodMetrics, code: Status, seconds: number): void {
  let byCode = entry.byCode.get(code);
  if (byCode === undefined) {
    const labels = { ...entry.labels, grpc_code: Status[code] ?? String(code) };
    byCode = { handled: handled.labels(labels), seconds: handlingSeconds.labels(labels) };
    entry.byCode.set(code, byCode);
  }
  byCode.handled.inc();
  byCode.seconds.observe(seconds);
}

/** Counts and times the calls of one method, for callers that do not run through the middleware chain. */
export interface RpcMetrics {
  /** Counts a started call; returns its start time for `finish`. */
  start(): number;
  /** Counts a completed call with its status and observes its duration since `startedAtMs`. */
  finish(code: Status, startedAtMs: number): void;
}

/** The metrics of the method at `path` (e.g. `/tradeplane.orders.v1.OrderService/GetOrder`), cached per path. */
export function rpcMetricsOf(path: string, requestStream: boolean, responseStream: boolean): RpcMetrics {
  const entry = methodMetrics(path, requestStream, responseStream);
  return {
    start() {
      entry.started.inc();
      return performance.now();
    },
    finish(code, startedAtMs) {
      record(entry, code, (performance.now() - startedAtMs) / 1000);
    },
  };
}

/** Status code a thrown value will produce on the wire (the same rules nice-grpc applies). */
export function statusOf(error: unknown): Status {
  if (error instanceof ServerError) return error.code;
  if (error instanceof Error && error.name === 'AbortError') return Status.CANCELLED;
  return Status.UNKNOWN;
}

/** Counts and times every RPC; place it outside the error mapping so it sees the final status. */
export function createMetricsMiddleware(): ServerMiddleware {
  return async function* metricsMiddleware(call, context) {
    const entry = methodMetrics(call.method.path, call.method.requestStream, call.method.responseStream);
    entry.started.inc();
    const startedAt = performance.now();
    let code = Status.OK;
    try {
      return yield* call.next(call.request, context);
    } catch (error) {
      code = statusOf(error);
      throw error;
    } finally {
      record(entry, code, (performance.now() - startedAt) / 1000);
    }
  };
}

/** The registry in the Prometheus text format, for `/metrics`. */
export function metricsText(): Promise<string> {
  return metricsRegistry.metrics();
}

export const METRICS_CONTENT_TYPE = metricsRegistry.contentType;
