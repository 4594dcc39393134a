// Quote fan-out through StreamQuotes, server in its own process, subscribers in this one:
//   A. 1,000 subscribers × 10 ticks/s on one symbol → p99 tick-to-subscriber ≤ 150 ms, zero gaps (G6)
//   B. 10,000 subscribers × 1 tick/s → p99 ≤ 1 s, server memory ≤ 16 KiB per open stream, zero gaps (G7)
//   C. A again plus one stalled subscriber → the others' p99 ≤ 1.2× A's (same run), and the stalled stream
//      is conflated (LAGGED) instead of buffering without bound.
// A busy second symbol is fed in A and C alike, so the stalled subscriber (which follows it) fills its
// buffer while the comparison stays fair. Latency is the subscriber's receive time minus the tick's
// timestamp, stamped by the feed as it sends; both run on this machine's clock. A bare grpc-js
// broadcaster (marketdata-raw-broadcast.ts) runs the same subscriber loads first, as the same-run
// baseline the ratios in the JSON result are taken against.
// Memory per stream is the server's heap + external memory after a full GC (both servers run with --expose-gc),
// read before the streams open and again once they are open and idle, divided by the stream count. RSS is
// recorded beside it but not checked: it moves with collections and with pages the allocator keeps.
import { spawn, type ChildProcess } from "node:child_process";
import { setMaxListeners } from "node:events";
import * as os from "node:os";
import * as path from "node:path";
import { createChannel, createClient, Metadata, type Channel } from "nice-grpc";
import type { Tick } from "../../generated/tradeplane/marketdata/v1/market_data";
import * as grpc from "@grpc/grpc-js";
import {
  MarketDataServiceDefinition,
  StreamQuotesRequest,
  StreamQuotesResponse,
} from "../../generated/tradeplane/marketdata/v1/market_data_service";
import { perStream, type MemoryReading } from "./marketdata-memory";
import { percentile, report } from "./support/report";
import { scrapeGauges } from "./support/metrics-scrape";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 12);
const STREAMS_PER_CONNECTION = 500;
const BUSY_TICKS_PER_SECOND = 200;
const STREAM_BUFFER = 64;

interface Server {
  grpcPort: number;
  httpPort: number;
  token: string;
  child: ChildProcess;
  /** Send a line command to the child and resolve with its one-line answer. */
  ask(command: string): Promise<string>;
}

/** Line-based talk with a child process: its stdout lines in order, and commands on its stdin. */
function lineChannel(child: ChildProcess) {
  const lines: string[] = [];
  const waiting: ((line: string) => void)[] = [];
  let buffered = "";
  child.stdout!.on("data", (chunk) => {
    buffered += chunk;
    for (let newline = buffered.indexOf("\n"); newline >= 0; newline = buffered.indexOf("\n")) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      const waiter = waiting.shift();
      if (waiter) waiter(line);
      else lines.push(line);
    }
  });
  const nextLine = () => (lines.length > 0 ? Promise.resolve(lines.shift()!) : new Promise<string>((resolve) => waiting.push(resolve)));
  const ask = (command: string) => {
    child.stdin!.write(`${command}\n`);
    return nextLine();
  };
  return { nextLine, ask };
}

async function startServer(): Promise<Server> {
  const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? "").split(" ").filter(Boolean);
  const child = spawn(process.execPath, ["--expose-gc", ...nodeArgs, "--import", "tsx", path.join(__dirname, "marketdata-server.ts")], {
    stdio: ["pipe", "pipe", "inherit"],
    env: { ...process.env, BENCH_SERVER_ENV: JSON.stringify({ MARKETDATA_STREAM_BUFFER: String(STREAM_BUFFER), MARKETDATA_HEARTBEAT_INTERVAL: "5s" }) },
  });
  const { nextLine, ask } = lineChannel(child);
  const exited = new Promise<never>((_, reject) => child.on("exit", (code) => reject(new Error(`server exited with ${code}`))));
  exited.catch(() => undefined);
  const line = await Promise.race([nextLine(), exited]);
  return { ...(JSON.parse(line) as { grpcPort: number; httpPort: number; token: string }), child, ask };
}

/** Heap + external after a full GC in the server process (see marketdata-memory.ts). */
const serverMemory = async (ask: (command: string) => Promise<string>) => JSON.parse(await ask("memory")) as MemoryReading;
/** Streams have their SNAPSHOT; give their opening writes a moment to finish before reading memory. */
const IDLE_BEFORE_MEMORY_MS = 1_000;

async function serverGauge(server: Server, name: string): Promise<number> {
  return (await scrapeGauges(server.httpPort, [name]))[name];
}

/** Server CPU (user + system) so far; its growth over a feed divided by the frames delivered is the CPU per frame. */
const serverCpuSeconds = (server: Server) => serverGauge(server, "process_cpu_seconds_total");

function clientsFor(server: Server, connections: number) {
  const metadata = new Metadata({ authorization: `Bearer ${server.token}` });
  const channels: Channel[] = [];
  const clients = Array.from({ length: connections }, () => {
    // A local subchannel pool per channel gives each its own HTTP/2 connection, as separate clients would have.
    const channel = createChannel(`127.0.0.1:${server.grpcPort}`, undefined, { "grpc.use_local_subchannel_pool": 1 });
    channels.push(channel);
    return createClient(MarketDataServiceDefinition, channel, { "*": { metadata } });
  });
  return { clients, close: () => channels.forEach((channel) => channel.close()) };
}

type Client = ReturnType<typeof clientsFor>["clients"][number];

interface SubscriberStats {
  latenciesMs: number[];
  gaps: number;
  lagged: number;
  updates: number;
}

/**
 * Open `count` streams on `symbol` with plain grpc-js clients (the subscriber side should cost as little
 * CPU as possible: it shares the machine with the server), each checking seq contiguity and recording
 * latency; resolves once every stream has its SNAPSHOT.
 */
async function subscribe(server: Server, count: number, symbol: string, controller: AbortController) {
  const stats: SubscriberStats = { latenciesMs: [], gaps: 0, lagged: 0, updates: 0 };
  const connections = Math.max(1, Math.ceil(count / STREAMS_PER_CONNECTION));
  const clients = Array.from(
    { length: connections },
    () => new grpc.Client(`127.0.0.1:${server.grpcPort}`, grpc.credentials.createInsecure(), { "grpc.use_local_subchannel_pool": 1 }),
  );
  const metadata = new grpc.Metadata();
  metadata.set("authorization", `Bearer ${server.token}`);
  const path = `/${MarketDataServiceDefinition.fullName}/StreamQuotes`;
  const request = StreamQuotesRequest.fromPartial({ symbols: [symbol] });
  let live = 0;
  let markLive!: () => void;
  const allLive = new Promise<void>((resolve) => (markLive = resolve));
  const done: Promise<void>[] = [];
  for (let index = 0; index < count; index += 1) {
    const call = clients[index % connections]!.makeServerStreamRequest(
      path,
      (value: StreamQuotesRequest) => Buffer.from(StreamQuotesRequest.encode(value).finish()),
      (bytes: Buffer) => StreamQuotesResponse.decode(bytes),
      request,
      metadata,
    );
    let lastSeq = -1;
    call.on("data", (frame: StreamQuotesResponse) => {
      const body = frame.frame;
      if (body?.$case === "snapshot") {
        lastSeq = Number(body.value.seq);
        if (++live === count) markLive();
      } else if (body?.$case === "update") {
        const seq = Number(body.value.seq);
        if (lastSeq >= 0 && seq !== lastSeq + 1) stats.gaps += 1;
        lastSeq = seq;
        stats.updates += 1;
        stats.latenciesMs.push(Date.now() - body.value.timestamp!.getTime());
      } else if (body?.$case === "lagged") stats.lagged += 1;
      else if (body?.$case === "gap") stats.gaps += 1;
    });
    done.push(new Promise<void>((resolve) => call.on("close", () => resolve()).on("error", () => resolve())));
    controller.signal.addEventListener("abort", () => call.cancel(), { once: true });
  }
  await allLive;
  return {
    stats,
    done: Promise.all(done).then(() => clients.forEach((client) => client.close())),
  };
}

let tickClock = Date.now();
function tick(symbol: string, price: number): Tick {
  tickClock = Math.max(Date.now(), tickClock + 1);
  const cents = Math.round(price * 100);
  return { symbol, bid: ((cents - 1) / 100).toFixed(2), ask: ((cents + 1) / 100).toFixed(2), last: (cents / 100).toFixed(2), bidSize: "100", askSize: "100", lastSize: "1", timestamp: new Date(tickClock) };
}

/** Feed `symbol` at `perSecond` (and the busy symbol at its rate) for `seconds`, paced against the wall clock. */
async function feed(client: Client, symbol: string, perSecond: number, seconds: number, withBusySymbol: boolean): Promise<void> {
  const messagesPerSecond = Math.max(perSecond, withBusySymbol ? 20 : 0);
  const total = Math.round(seconds * messagesPerSecond);
  const start = Date.now();
  async function* messages() {
    let sent = 0;
    for (let index = 0; index < total; index += 1) {
      const due = start + (index * 1000) / messagesPerSecond;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      const ticks: Tick[] = [];
      // The measured symbol ticks at its own rate within the message schedule.
      if (Math.floor(((index + 1) * perSecond) / messagesPerSecond) > sent) {
        ticks.push(tick(symbol, 100 + (index % 50) / 100));
        sent += 1;
      }
      if (withBusySymbol) for (let k = 0; k < BUSY_TICKS_PER_SECOND / messagesPerSecond; k += 1) ticks.push(tick("MSFT", 420 + (k % 10) / 100));
      if (ticks.length > 0) yield { ticks };
    }
  }
  await client.publishQuotes(messages());
}

async function scenario(server: Server, options: { subscribers: number; perSecond: number; busy: boolean; stalled: boolean }) {
  const { clients, close } = clientsFor(server, 1);
  const feeder = clients[0]!;
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  try {
    // Both symbols need a quote, so every new stream starts with a SNAPSHOT (which marks it live).
    async function* seed() {
      yield { ticks: [tick("AAPL", 100), tick("MSFT", 420)] };
    }
    await feeder.publishQuotes(seed());
    let stalledIterator: AsyncIterator<unknown> | undefined;
    if (options.stalled) {
      // Reads its first frame, then never again: the server must conflate it, not buffer for it.
      stalledIterator = feeder.streamQuotes({ symbols: ["AAPL", "MSFT"], resumeToken: "" }, { signal: controller.signal })[Symbol.asyncIterator]();
      await stalledIterator.next();
    }
    const memoryBefore = await serverMemory(server.ask);
    const { stats, done } = await subscribe(server, options.subscribers, "AAPL", controller);
    await new Promise((resolve) => setTimeout(resolve, IDLE_BEFORE_MEMORY_MS));
    const memoryWithStreams = await serverMemory(server.ask);
    const cpuBefore = await serverCpuSeconds(server);
    await feed(feeder, "AAPL", options.perSecond, SECONDS, options.busy);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const cpuSeconds = (await serverCpuSeconds(server)) - cpuBefore;
    let stalledFrames = 0;
    let stalledLagged = 0;
    if (stalledIterator) {
      // Now drain it: what it receives is bounded by its buffer (plus transport windows), with LAGGED notices.
      const drainUntil = Date.now() + 3_000;
      while (Date.now() < drainUntil) {
        const next = await Promise.race([stalledIterator.next(), new Promise<undefined>((resolve) => setTimeout(resolve, 300))]);
        if (!next || next.done) break;
        stalledFrames += 1;
        if ((next.value as { frame?: { $case: string } }).frame?.$case === "lagged") stalledLagged += 1;
      }
    }
    controller.abort();
    await done;
    return {
      subscribers: options.subscribers,
      ticksPerSecond: options.perSecond,
      expectedUpdates: options.subscribers * Math.round(SECONDS * options.perSecond),
      updates: stats.updates,
      gaps: stats.gaps,
      lagged: stats.lagged,
      latencyMs: { p50: percentile(stats.latenciesMs, 50), p99: percentile(stats.latenciesMs, 99), max: percentile(stats.latenciesMs, 100) },
      serverMemory: { before: memoryBefore, withStreams: memoryWithStreams, perStream: perStream(memoryBefore, memoryWithStreams, options.subscribers) },
      // Includes the feed's PublishQuotes and the busy symbol's ticks, so it is an upper bound per delivered frame.
      serverCpuMicrosPerFrame: (cpuSeconds * 1e6) / Math.max(1, stats.updates),
      stalled: options.stalled ? { framesAfterResuming: stalledFrames, laggedNotices: stalledLagged } : undefined,
    };
  } finally {
    controller.abort();
    close();
  }
}

/** The bare grpc-js broadcaster of marketdata-raw-broadcast.ts, driven by line commands. */
async function startRawBaseline() {
  const child = spawn(process.execPath, ["--expose-gc", "--import", "tsx", path.join(__dirname, "marketdata-raw-broadcast.ts")], { stdio: ["pipe", "pipe", "inherit"] });
  const { nextLine, ask } = lineChannel(child);
  const { grpcPort } = JSON.parse(await nextLine()) as { grpcPort: number };
  return {
    async scenario(subscribers: number, perSecond: number) {
      const controller = new AbortController();
      setMaxListeners(0, controller.signal);
      const memoryBefore = await serverMemory(ask);
      const { stats, done } = await subscribe({ grpcPort, httpPort: 0, token: "raw", child, ask }, subscribers, "AAPL", controller);
      await new Promise((resolve) => setTimeout(resolve, IDLE_BEFORE_MEMORY_MS));
      const memoryWithStreams = await serverMemory(ask);
      await ask(`run ${perSecond} ${SECONDS}`);
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      controller.abort();
      await done;
      return {
        subscribers,
        updates: stats.updates,
        expectedUpdates: subscribers * Math.round(SECONDS * perSecond),
        latencyMs: { p50: percentile(stats.latenciesMs, 50), p99: percentile(stats.latenciesMs, 99), max: percentile(stats.latenciesMs, 100) },
        serverMemory: { before: memoryBefore, withStreams: memoryWithStreams, perStream: perStream(memoryBefore, memoryWithStreams, subscribers) },
      };
    },
    async stop() {
      child.stdin!.end();
      await new Promise((resolve) => child.once("exit", resolve));
    },
  };
}

const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
/** The checked figure first (heap + external after GC), then its parts, and RSS for the record. */
const describeMemory = (memory: ReturnType<typeof perStream>) =>
  `${kib(memory.liveBytes)}/stream heap+external after GC (heap ${kib(memory.heapUsed)}, external ${kib(memory.external)}; RSS ${kib(memory.rss)}, not checked)`;

async function main(): Promise<void> {
  const baseline = await startRawBaseline();
  const rawA = await baseline.scenario(1_000, 10);
  console.log(`  raw grpc-js 1k × 10/s: p50 ${rawA.latencyMs.p50} ms p99 ${rawA.latencyMs.p99} ms, ${rawA.updates}/${rawA.expectedUpdates} updates`);
  const rawB = await baseline.scenario(10_000, 1);
  console.log(`  raw grpc-js 10k × 1/s: p50 ${rawB.latencyMs.p50} ms p99 ${rawB.latencyMs.p99} ms, ${describeMemory(rawB.serverMemory.perStream)}`);
  await baseline.stop();
  const server = await startServer();
  try {
    const a = await scenario(server, { subscribers: 1_000, perSecond: 10, busy: true, stalled: false });
    console.log(`  A 1k × 10/s: p50 ${a.latencyMs.p50} ms p99 ${a.latencyMs.p99} ms, ${a.updates}/${a.expectedUpdates} updates, gaps ${a.gaps}, lagged ${a.lagged}, server CPU ${a.serverCpuMicrosPerFrame.toFixed(1)} µs/frame`);
    const c = await scenario(server, { subscribers: 1_000, perSecond: 10, busy: true, stalled: true });
    console.log(`  C 1k × 10/s + stalled: p99 ${c.latencyMs.p99} ms, gaps ${c.gaps}, stalled ${JSON.stringify(c.stalled)}`);
    const b = await scenario(server, { subscribers: 10_000, perSecond: 1, busy: false, stalled: false });
    console.log(`  B 10k × 1/s: p50 ${b.latencyMs.p50} ms p99 ${b.latencyMs.p99} ms, ${b.updates}/${b.expectedUpdates} updates, gaps ${b.gaps}, ${describeMemory(b.serverMemory.perStream)}, server CPU ${b.serverCpuMicrosPerFrame.toFixed(1)} µs/frame`);
    console.log(
      `  vs raw grpc-js: p99 ${(a.latencyMs.p99 / rawA.latencyMs.p99).toFixed(2)}× (1k), ${(b.latencyMs.p99 / rawB.latencyMs.p99).toFixed(2)}× (10k); heap+external/stream ${(b.serverMemory.perStream.liveBytes / rawB.serverMemory.perStream.liveBytes).toFixed(2)}×`,
    );
    report({
      name: "marketdata-fanout",
      checks: [
        { label: "1,000 subscribers × 10 ticks/s: p99 tick-to-subscriber", value: a.latencyMs.p99, target: 150, kind: "max", unit: " ms" },
        { label: "1,000 subscribers × 10 ticks/s: seq gaps and conflations", value: a.gaps + a.lagged, target: 0, kind: "max", unit: "" },
        { label: "10,000 subscribers × 1 tick/s: p99 tick-to-subscriber", value: b.latencyMs.p99, target: 1_000, kind: "max", unit: " ms" },
        { label: "10,000 subscribers × 1 tick/s: seq gaps and conflations", value: b.gaps + b.lagged, target: 0, kind: "max", unit: "" },
        { label: "10,000 subscribers: server heap + external per open stream (after GC; RSS in measurements)", value: b.serverMemory.perStream.liveBytes / 1024, target: 16, kind: "max", unit: " KiB" },
        { label: "others' p99 with one stalled subscriber / without (same run)", value: c.latencyMs.p99 / a.latencyMs.p99, target: 1.2, kind: "max" },
        { label: "stalled subscriber conflated (LAGGED notices received)", value: c.stalled?.laggedNotices ?? 0, target: 1, kind: "min", unit: "" },
      ],
      measurements: {
        loadAverage: os.loadavg(),
        rawBaseline: { a: rawA, b: rawB },
        ratiosToRawBaseline: {
          p99At1kSubscribers: a.latencyMs.p99 / rawA.latencyMs.p99,
          p99At10kSubscribers: b.latencyMs.p99 / rawB.latencyMs.p99,
          liveBytesPerStream: b.serverMemory.perStream.liveBytes / rawB.serverMemory.perStream.liveBytes,
        },
        seconds: SECONDS, streamBuffer: STREAM_BUFFER, busyTicksPerSecond: BUSY_TICKS_PER_SECOND, a, b, c, cache: process.env.REDIS_URL ? "redis" : "in-process" },
    });
  } finally {
    server.child.stdin!.end();
    await new Promise((resolve) => server.child.once("exit", resolve));
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
