// Loads a unary gRPC method with h2load (Debian package nghttp2-client) and reads per-request latencies from its
// log file, so benchmarks get percentiles rather than h2load's mean. h2load only sees HTTP status 200; callers
// check the method answers OK (grpc-status 0) with a real client before loading it.
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { percentile } from "./report";

export interface H2loadOptions {
  /** e.g. http://127.0.0.1:50051 */
  baseUrl: string;
  /** Full gRPC method path, e.g. /tradeplane.marketdata.v1.MarketDataService/GetQuote */
  method: string;
  /** The serialized request message (without the gRPC 5-byte frame header). */
  message: Uint8Array;
  headers?: Record<string, string>;
  requests: number;
  clients: number;
  /** Concurrent streams per client connection. */
  streams: number;
  /** Requests sent first and not counted, to warm the JIT and connections. */
  warmupRequests?: number;
}

export interface H2loadResult {
  requestsPerSecond: number;
  succeeded: number;
  failed: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
}

export function requireH2load(): void {
  try {
    execFileSync("h2load", ["--version"], { stdio: "ignore" });
  } catch {
    throw new Error("h2load is not installed: apt-get install nghttp2-client");
  }
}

/** A gRPC length-prefixed frame: 1 byte compressed flag, 4 bytes big-endian length, the message. */
export function grpcFrame(message: Uint8Array): Buffer {
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt8(0, 0);
  frame.writeUInt32BE(message.length, 1);
  Buffer.from(message).copy(frame, 5);
  return frame;
}

function runOnce(options: H2loadOptions, requests: number, dir: string): Promise<H2loadResult> {
  const bodyFile = path.join(dir, "body.bin");
  const logFile = path.join(dir, `log-${Date.now()}-${Math.random().toString(36).slice(2)}.tsv`);
  writeFileSync(bodyFile, grpcFrame(options.message));
  const args = [
    "-n", String(requests), "-c", String(options.clients), "-m", String(options.streams), "-t", "1",
    "-d", bodyFile, "--log-file", logFile,
    "-H", "content-type: application/grpc", "-H", "te: trailers",
  ];
  for (const [k, v] of Object.entries(options.headers ?? {})) args.push("-H", `${k}: ${v}`);
  args.push(`${options.baseUrl}${options.method}`);
  return new Promise((resolve, reject) => {
    const child = spawn("h2load", args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("error", reject);
    child.on("close", () => {
      const rps = /finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(out);
      const counts = /requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed/.exec(out);
      if (!rps || !counts) return reject(new Error(`could not read h2load output:\n${out}`));
      // Log lines: start time (µs since epoch), HTTP status, duration (µs).
      const latencies = readFileSync(logFile, "utf8")
        .split("\n")
        .filter((line) => line.trim() !== "")
        .map((line) => Number(line.split("\t")[2]) / 1000);
      resolve({
        requestsPerSecond: Number(rps[1]),
        succeeded: Number(counts[1]),
        failed: Number(counts[2]),
        latencyMs: {
          p50: percentile(latencies, 50),
          p90: percentile(latencies, 90),
          p99: percentile(latencies, 99),
          max: percentile(latencies, 100),
        },
      });
    });
  });
}

/** Runs a warm-up (not counted) and then the measured load. */
export async function h2load(options: H2loadOptions): Promise<H2loadResult> {
  requireH2load();
  const dir = mkdtempSync(path.join(os.tmpdir(), "tradeplane-h2load-"));
  try {
    if (options.warmupRequests) await runOnce(options, options.warmupRequests, dir);
    return await runOnce(options, options.requests, dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Median of several results by throughput, with the latency percentiles taken as medians too. */
export function medianResult(results: readonly H2loadResult[]): H2loadResult {
  const mid = (xs: number[]) => percentile(xs, 50);
  return {
    requestsPerSecond: mid(results.map((r) => r.requestsPerSecond)),
    succeeded: results.reduce((n, r) => n + r.succeeded, 0),
    failed: results.reduce((n, r) => n + r.failed, 0),
    latencyMs: {
      p50: mid(results.map((r) => r.latencyMs.p50)),
      p90: mid(results.map((r) => r.latencyMs.p90)),
      p99: mid(results.map((r) => r.latencyMs.p99)),
      max: Math.max(...results.map((r) => r.latencyMs.max)),
    },
  };
}
