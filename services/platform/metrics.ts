// Prometheus metrics for the whole process: one registry, default process metrics, and RPC counters and latency
// histograms labelled by service, method and status code (the names follow go-grpc-prometheus, so existing
// dashboards work). The RPC metrics sit on every call, and prom-client validates and hashes the labels on every
// `inc`/`observe` even through a cached child; so each method keeps plain tallies (per status code: count, sum and
// bucket counts) that the registry reads when /metrics is scraped. A call costs a few additions.
import { collectDefaultMetrics, Registry, type Metric } from 'prom-client';
import { ServerError, Status, type ServerMiddleware } from 'nice-grpc-common';

/** The one registry of this process; other modules register their own metrics here. */
export const metricsRegistry = new Registry();
collectDefaultMetrics({ register: metricsRegistry });

/** Upper bounds of the handling-time histogram, in seconds. */
const HANDLING_BUCKETS_SECONDS: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

type MethodLabels = { grpc_service: string; grpc_method: string; grpc_type: string };
type CodeLabels = MethodLabels & { grpc_code: string };

interface CodeTally {
  readonly labels: CodeLabels;
  handled: number;
  sumSeconds: number;
  /** Calls per bucket (not cumulative); the last one counts calls above every bound. */
  readonly buckets: number[];
}

interface MethodTally {
  readonly labels: MethodLabels;
  started: number;
  readonly byCode: Map<Status, CodeTally>;
}

const methods = new Map<string, MethodTally>();

interface MetricValue {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

/** Registers a metric whose values are read from the tallies at scrape time (the shape prom-client metrics give). */
function registerTallied(name: string, help: string, type: 'counter' | 'histogram', values: () => MetricValue[]): void {
  const metric = {
    name,
    help,
    type,
    aggregator: 'sum',
    get: async () => ({ name, help, type, aggregator: 'sum', values: values() }),
    reset: resetTallies,
  };
  metricsRegistry.registerMetric(metric as unknown as Metric);
}

/** Zeroes every tally in place (registry.resetMetrics()); the per-method handles keep counting into them. */
function resetTallies(): void {
  for (const method of methods.values()) {
    method.started = 0;
    for (const tally of method.byCode.values()) {
      tally.handled = 0;
      tally.sumSeconds = 0;
      tally.buckets.fill(0);
    }
  }
}

function codeTallies(): CodeTally[] {
  return [...methods.values()].flatMap((method) => [...method.byCode.values()]);
}

registerTallied('grpc_server_started_total', 'RPCs started on the server.', 'counter', () =>
  [...methods.values()].map((method) => ({ labels: method.labels, value: method.started })),
);

registerTallied('grpc_server_handled_total', 'RPCs completed on the server, by status code.', 'counter', () =>
  codeTallies().map((tally) => ({ labels: tally.labels, value: tally.handled })),
);

registerTallied('grpc_server_handling_seconds', 'Time from the start of an RPC to its status, in seconds.', 'histogram', () =>
  codeTallies().flatMap((tally) => {
    const values: MetricValue[] = [];
    let cumulative = 0;
    HANDLING_BUCKETS_SECONDS.forEach((bound, index) => {
      cumulative += tally.buckets[index]!;
      values.push({ labels: { ...tally.labels, le: bound }, value: cumulative, metricName: 'grpc_server_handling_seconds_bucket' });
    });
    values.push(
      { labels: { ...tally.labels, le: '+Inf' }, value: tally.handled, metricName: 'grpc_server_handling_seconds_bucket' },
      { labels: tally.labels, value: tally.sumSeconds, metricName: 'grpc_server_handling_seconds_sum' },
      { labels: tally.labels, value: tally.handled, metricName: 'grpc_server_handling_seconds_count' },
    );
    return values;
  }),
);

function methodTally(path: string, requestStream: boolean, responseStream: boolean): MethodTally {
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
    entry = { labels: { grpc_service: service, grpc_method: method, grpc_type: type }, started: 0, byCode: new Map() };
    methods.set(path, entry);
  }
  return entry;
}

function record(entry: MethodTally, code: Status, seconds: number): void {
  let tally = entry.byCode.get(code);
  if (tally === undefined) {
    tally = {
      labels: { ...entry.labels, grpc_code: Status[code] ?? String(code) },
      handled: 0,
      sumSeconds: 0,
      buckets: new Array<number>(HANDLING_BUCKETS_SECONDS.length + 1).fill(0),
    };
    entry.byCode.set(code, tally);
  }
  tally.handled += 1;
  tally.sumSeconds += seconds;
  let bucket = 0;
  while (bucket < HANDLING_BUCKETS_SECONDS.length && seconds > HANDLING_BUCKETS_SECONDS[bucket]!) bucket += 1;
  tally.buckets[bucket]! += 1;
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
  const entry = methodTally(path, requestStream, responseStream);
  return {
    start() {
      entry.started += 1;
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
    const metrics = rpcMetricsOf(call.method.path, call.method.requestStream, call.method.responseStream);
    const startedAtMs = metrics.start();
    let code = Status.OK;
    try {
      return yield* call.next(call.request, context);
    } catch (error) {
      code = statusOf(error);
      throw error;
    } finally {
      metrics.finish(code, startedAtMs);
    }
  };
}

/** The registry in the Prometheus text format, for `/metrics`. */
export function metricsText(): Promise<string> {
  return metricsRegistry.metrics();
}

export const METRICS_CONTENT_TYPE = metricsRegistry.contentType;
