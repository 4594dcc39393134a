import { Counter, Gauge } from "prom-client";
import { metricsRegistry } from "../../platform/metrics";

// One set of metrics per process: several market data instances in one process (tests) share them,
// because a Prometheus registry refuses a second metric with the same name.
function counter(name: string, help: string, labelNames: readonly string[] = []): Counter<string> {
  return (metricsRegistry.getSingleMetric(name) as Counter<string> | undefined) ?? new Counter({ name, help, labelNames, registers: [metricsRegistry] });
}

function gauge(name: string, help: string): Gauge<string> {
  return (metricsRegistry.getSingleMetric(name) as Gauge<string> | undefined) ?? new Gauge({ name, help, registers: [metricsRegistry] });
}

/** Market data's Prometheus metrics, served on /metrics with the rest of the process. */
export function marketDataMetrics() {
  return {
    /** Quote reads that fell back to Postgres because the cache failed (Redis down). */
    cacheDegraded: counter("marketdata_quote_cache_degraded_total", "Quote cache operations that failed; reads were served from Postgres."),
    ticksAccepted: counter("marketdata_ticks_accepted_total", "Ticks accepted, sequenced and published."),
    ticksRejected: counter("marketdata_ticks_rejected_total", "Ticks rejected by validation, by reason.", ["reason"]),
    tickWriteFailures: counter("marketdata_tick_write_failures_total", "Tick batches that failed to write to Postgres (retried)."),
    ticksDropped: counter("marketdata_ticks_dropped_total", "Ticks not stored because Postgres stayed down past the pending bound."),
    streamsOpen: gauge("marketdata_quote_streams_open", "Open StreamQuotes calls."),
  };
}

export type MarketDataMetrics = ReturnType<typeof marketDataMetrics>;
