// 1,000 browsers following quotes through the HTTP bridge: SSE subscribers on GET /api/v1/streams/quotes, each
// for one of a few symbols, while a feed publishes ticks into the real market data service. Measures the time
// from a tick's exchange timestamp (set by the feed just before publishing) to its arrival at each subscriber,
// and checks every subscriber saw every update of its symbol: contiguous seqs, no LAGGED or GAP frame.
// Target (issue 7): p99 tick-to-client ≤ 200 ms with zero gaps. Baseline in the same run: the same fan-out
// over gRPC directly (subscribers calling StreamQuotes themselves), to show what the bridge adds.
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { setMaxListeners } from "node:events";
import http from "node:http";
import * as path from "node:path";
import { createInterface } from "node:readline";
import { createChannel, createClient, Metadata, type Channel } from "nice-grpc";
import { MarketDataServiceDefinition } from "../../generated/tradeplane/marketdata/v1/market_data_service";
import { BENCH_SECRET, startMarketDataForBench } from "./marketdata-server";
import { percentile, report } from "./support/report";

const SUBSCRIBERS = Number(process.env.BENCH_SUBSCRIBERS ?? 1_000);
const SYMBOLS = ["AAPL", "MSFT", "GOOGL", "TSLA", "VOO", "BTC", "ETH", "SOL", "XRP", "ADA"];
const TICKS_PER_SECOND = Number(process.env.BENCH_TICKS_PER_SECOND ?? 20);
const DURATION_MS = Number(process.env.BENCH_DURATION_MS ?? 10_000);

interface Tally {
  latenciesMs: number[];
  frames: number;
  gaps: number;
  /** Last update seq per subscriber. */
  lastSeq: Map<number, bigint>;
}

const newTally = (): Tally => ({ latenciesMs: [], frames: 0, gaps: 0, lastSeq: new Map() });

interface Frame {
  snapshot?: { seq: string };
  update?: { seq: string; timestamp?: string | Date };
  gap?: unknown;
  lagged?: unknown;
}

/** Accounts one frame of subscriber `id`: latency of updates, and a gap when a seq is skipped or the stream lagged. */
function account(tally: Tally, id: number, frame: Frame, receivedAt: number, measuring: boolean): void {
  if (frame.gap !== undefined || frame.lagged !== undefined) {
    tally.gaps++;
    return;
  }
  const quote = frame.snapshot ?? frame.update;
  if (quote === undefined) return;
  const seq = BigInt(quote.seq);
  const last = tally.lastSeq.get(id);
  if (frame.update !== undefined && last !== undefined && seq !== last + 1n) tally.gaps++;
  tally.lastSeq.set(id, seq);
  if (frame.update !== undefined && measuring) {
    tally.frames++;
    const at = frame.update.timestamp instanceof Date ? frame.update.timestamp.getTime() : Date.parse(frame.update.timestamp ?? "");
    tally.latenciesMs.push(receivedAt - at);
  }
}

/** CPU time (user + system) a process has used so far, in ms, from /proc (the gateway runs as a child process). */
function cpuMsOf(pid: number): number {
  // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th, in clock ticks.
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  const ticksPerSecond = 100; // USER_HZ, which Linux fixes at 100 for /proc
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond;
}

async function startGateway(marketDataPort: number): Promise<{ port: number; child: ChildProcess }> {
  // BENCH_GATEWAY_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof", profiles the gateway alone.
  const nodeArgs = (process.env.BENCH_GATEWAY_NODE_ARGS ?? "").split(" ").filter((arg) => arg !== "");
  const child = spawn(process.execPath, [...nodeArgs, "--import", "tsx", path.join(__dirname, "gateway-server.ts")], {
    stdio: ["pipe", "pipe", "inherit"],
    env: { ...process.env, JWT_SECRET: BENCH_SECRET, MARKETDATA_ADDRESS: `127.0.0.1:${marketDataPort}` },
  });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once("line", resolve);
    child.once("exit", (code) => reject(new Error(`the gateway exited with ${code}`)));
  });
  return { port: (JSON.parse(line) as { httpPort: number }).httpPort, child };
}

/** Opens the SSE subscribers; resolves once each has its first frame. */
async function openSseSubscribers(port: number, token: string, tally: Tally, measuring: () => boolean): Promise<() => void> {
  const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
  const requests: http.ClientRequest[] = [];
  const ready: Promise<void>[] = [];
  for (let id = 0; id < SUBSCRIBERS; id++) {
    const symbol = SYMBOLS[id % SYMBOLS.length]!;
    ready.push(
      new Promise((resolve, reject) => {
        const request = http.get(
          { host: "127.0.0.1", port, path: `/api/v1/streams/quotes?symbols=${symbol}`, agent, headers: { accept: "text/event-stream", authorization: `Bearer ${token}` } },
          (response) => {
            if (response.statusCode !== 200) return reject(new Error(`subscriber ${id}: HTTP ${response.statusCode}`));
            response.setEncoding("utf8");
            let buffer = "";
            let first = true;
            response.on("data", (chunk: string) => {
              const receivedAt = Date.now();
              buffer += chunk;
              let end = buffer.indexOf("\n\n");
              while (end >= 0) {
                const block = buffer.slice(0, end);
                buffer = buffer.slice(end + 2);
                const data = block.split("\n").find((line) => line.startsWith("data: "));
                if (data !== undefined && !block.startsWith("event:") && !block.includes("\nevent:")) {
                  account(tally, id, JSON.parse(data.slice(6)) as Frame, receivedAt, measuring());
                  if (first) {
                    first = false;
                    resolve();
                  }
                }
                end = buffer.indexOf("\n\n");
              }
            });
          },
        );
        request.on("error", reject);
        requests.push(request);
      }),
    );
  }
  await Promise.all(ready);
  return () => {
    for (const request of requests) request.destroy();
    agent.destroy();
  };
}

/** The baseline: the same subscribers calling StreamQuotes over gRPC directly (one shared channel). */
async function openGrpcSubscribers(channel: Channel, token: string, tally: Tally, measuring: () => boolean): Promise<() => void> {
  const client = createClient(MarketDataServiceDefinition, channel, { "*": { metadata: new Metadata({ authorization: `Bearer ${token}` }) } });
  const abort = new AbortController();
  setMaxListeners(0, abort.signal); // one signal cancels every subscriber
  const ready: Promise<void>[] = [];
  for (let id = 0; id < SUBSCRIBERS; id++) {
    const symbol = SYMBOLS[id % SYMBOLS.length]!;
    ready.push(
      new Promise((resolve, reject) => {
        void (async () => {
          let first = true;
          try {
            for await (const frame of client.streamQuotes({ symbols: [symbol] }, { signal: abort.signal })) {
              const f = frame.frame;
              const shaped: Frame =
                f?.$case === "snapshot" ? { snapshot: f.value } : f?.$case === "update" ? { update: f.value } : f?.$case === "gap" ? { gap: f.value } : f?.$case === "lagged" ? { lagged: f.value } : {};
              account(tally, id, shaped, Date.now(), measuring());
              if (first && (f?.$case === "snapshot" || f?.$case === "update")) {
                first = false;
                resolve();
              }
            }
          } catch (error) {
            if (!abort.signal.aborted) reject(error);
          }
        })();
      }),
    );
  }
  await Promise.all(ready);
  return () => abort.abort();
}

/** Publishes TICKS_PER_SECOND ticks round-robin over the symbols for `durationMs`, each stamped with its send time. */
async function publish(channel: Channel, token: string, durationMs: number, prices: Map<string, number>): Promise<number> {
  const client = createClient(MarketDataServiceDefinition, channel, { "*": { metadata: new Metadata({ authorization: `Bearer ${token}` }) } });
  let sent = 0;
  const started = Date.now();
  async function* ticks() {
    while (Date.now() - started < durationMs) {
      const symbol = SYMBOLS[sent % SYMBOLS.length]!;
      // A small random walk in integer cents: prices are decimal strings on the wire.
      const cents = (prices.get(symbol) ?? 10_000) + (Math.random() < 0.5 ? -1 : 1);
      prices.set(symbol, cents);
      const price = `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, "0")}`;
      yield { ticks: [{ symbol, bid: price, ask: price, last: price, bidSize: "1", askSize: "1", lastSize: "1", timestamp: new Date() }] };
      sent++;
      const due = started + (sent * 1000) / TICKS_PER_SECOND;
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - Date.now())));
    }
  }
  await client.publishQuotes(ticks());
  return sent;
}

async function run(label: string, open: (tally: Tally, measuring: () => boolean) => Promise<() => void>, channel: Channel, token: string, prices: Map<string, number>, cpuMs?: () => number) {
  const tally = newTally();
  let measuring = false;
  const openedAt = Date.now();
  const close = await open(tally, () => measuring);
  const connectMs = Date.now() - openedAt;
  measuring = true;
  const cpuBefore = cpuMs?.();
  const ticks = await publish(channel, token, DURATION_MS, prices);
  await new Promise((resolve) => setTimeout(resolve, 500)); // let the last ticks arrive
  measuring = false;
  // Everything the gateway did while ticks flowed (frames, keepalives, metrics), per update delivered.
  const gatewayCpuUsPerFrame = cpuBefore === undefined ? undefined : Math.round(((cpuMs!() - cpuBefore) * 1000) / Math.max(1, tally.frames));
  close();
  const expected = (ticks * SUBSCRIBERS) / SYMBOLS.length;
  const result = {
    connectMs,
    ticks,
    framesExpected: expected,
    framesReceived: tally.frames,
    gaps: tally.gaps,
    gatewayCpuUsPerFrame,
    latencyMs: { p50: percentile(tally.latenciesMs, 50), p99: percentile(tally.latenciesMs, 99), max: percentile(tally.latenciesMs, 100) },
  };
  console.log(`  ${label}: ${SUBSCRIBERS} subscribers up in ${connectMs} ms; ${tally.frames}/${expected} updates; gaps ${tally.gaps}; p50 ${result.latencyMs.p50} ms p99 ${result.latencyMs.p99} ms max ${result.latencyMs.max} ms${gatewayCpuUsPerFrame === undefined ? "" : `; gateway CPU ${gatewayCpuUsPerFrame} µs/frame`}`);
  return result;
}

async function main(): Promise<void> {
  const service = await startMarketDataForBench({ GRPC_MAX_CONCURRENT_STREAMS: "10000", MARKETDATA_MAX_SYMBOLS_PER_STREAM: "100" });
  const channel = createChannel(`127.0.0.1:${service.grpcPort}`);
  const gateway = await startGateway(service.grpcPort);
  const prices = new Map<string, number>();
  try {
    // Every symbol gets a first quote, so subscribers start with a SNAPSHOT.
    await publish(channel, service.token, Math.ceil((SYMBOLS.length * 1000) / TICKS_PER_SECOND) + 10, prices);
    const direct = await run("gRPC direct", (tally, measuring) => openGrpcSubscribers(channel, service.token, tally, measuring), channel, service.token, prices);
    const bridge = await run("SSE bridge ", (tally, measuring) => openSseSubscribers(gateway.port, service.token, tally, measuring), channel, service.token, prices, () => cpuMsOf(gateway.child.pid!));
    report({
      name: "gateway-sse-fanout",
      checks: [
        { label: `p99 tick-to-client, ${SUBSCRIBERS} SSE subscribers`, value: bridge.latencyMs.p99, target: 200, kind: "max", unit: " ms" },
        { label: "gaps seen by SSE subscribers", value: bridge.gaps, target: 0, kind: "max", unit: "" },
        { label: "SSE updates delivered / expected", value: bridge.framesReceived / bridge.framesExpected, target: 0.99, kind: "min" },
      ],
      measurements: { subscribers: SUBSCRIBERS, symbols: SYMBOLS.length, ticksPerSecond: TICKS_PER_SECOND, durationMs: DURATION_MS, bridge, direct },
    });
  } finally {
    channel.close();
    gateway.child.stdin!.end();
    await new Promise((resolve) => gateway.child.once("exit", resolve));
    await service.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
