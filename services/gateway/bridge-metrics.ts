// Prometheus metrics of the bridge, in the process registry (`/metrics`): requests by route kind, RPC and HTTP
// status, their latency, and the streams open now, so a dashboard shows bridge load next to the gRPC metrics.
import { Counter, Gauge, Histogram } from "prom-client";
import { metricsRegistry } from "../platform/metrics";

const requests = new Counter({
  name: "http_bridge_requests_total",
  help: "HTTP requests answered by the bridge, by RPC (or route kind) and HTTP status.",
  labelNames: ["rpc", "code"] as const,
  registers: [metricsRegistry],
});

const seconds = new Histogram({
  name: "http_bridge_request_duration_seconds",
  help: "Time from an HTTP request's arrival to its response's end (whole stream for streams), in seconds.",
  labelNames: ["rpc", "code"] as const,
  buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60, 600],
  registers: [metricsRegistry],
});

const openStreams = new Gauge({
  name: "http_bridge_open_streams",
  help: "Streaming responses (SSE or NDJSON) open now.",
  registers: [metricsRegistry],
});

// Frames are counted in plain numbers and added to the counter when it is scraped: a labelled prom-client inc()
// hashes and validates its labels on every call, which a fan-out to a thousand streams pays per frame.
const pendingFrames = new Map<string, { rpc: string; format: string; count: number }>();

// Registered for its collect(); nothing increments it directly.
new Counter({
  name: "http_bridge_stream_frames_total",
  help: "Frames written to streaming responses.",
  labelNames: ["rpc", "format"] as const,
  registers: [metricsRegistry],
  collect() {
    for (const cell of pendingFrames.values()) {
      if (cell.count === 0) continue;
      this.labels({ rpc: cell.rpc, format: cell.format }).inc(cell.count);
      cell.count = 0;
    }
  },
});

// Label lookups hash the label set on every call; the children are cached per (rpc, code) instead.
const children = new Map<string, { requests: { inc(): void }; seconds: { observe(value: number): void } }>();

export const bridgeMetrics = {
  observe(rpc: string, code: number, elapsedSeconds: number): void {
    const key = `${rpc} ${code}`;
    let child = children.get(key);
    if (child === undefined) {
      const labels = { rpc, code: String(code) };
      child = { requests: requests.labels(labels), seconds: seconds.labels(labels) };
      children.set(key, child);
    }
    child.requests.inc();
    child.seconds.observe(elapsedSeconds);
  },
  streamOpened(): void {
    openStreams.inc();
  },
  streamClosed(): void {
    openStreams.dec();
  },
  /** A function that counts one frame written to a stream of `rpc` in `format`; get it once per stream. */
  frameCounter(rpc: string, format: string): () => void {
    const key = `${rpc} ${format}`;
    let cell = pendingFrames.get(key);
    if (cell === undefined) {
      cell = { rpc, format, count: 0 };
      pendingFrames.set(key, cell);
    }
    const counted = cell;
    return () => {
      counted.count++;
    };
  },
};
