// Baseline for the fan-out benchmark, run as a child process: a bare grpc-js server that answers
// StreamQuotes with a SNAPSHOT and then writes the same UPDATE frame (fresh timestamp, next seq) to every
// open stream at a fixed rate, with no validation, bus, middleware or backpressure handling. Commands on
// stdin: `memory` prints a MemoryReading (marketdata-memory.ts; run it with --expose-gc) as one JSON line;
// `run <ticksPerSecond> <seconds>` ticks, then prints `done`.
import * as grpc from "@grpc/grpc-js";
import * as readline from "node:readline";
import { readMemory } from "./marketdata-memory";
import { StreamQuotesRequest, StreamQuotesResponse, MarketDataServiceDefinition } from "../../generated/tradeplane/marketdata/v1/market_data_service";

const streams = new Set<grpc.ServerWritableStream<StreamQuotesRequest, StreamQuotesResponse>>();
let seq = 1;
const frame = (kind: "snapshot" | "update"): StreamQuotesResponse =>
  StreamQuotesResponse.fromPartial({
    streamId: "raw",
    streamEpoch: "1",
    resumeToken: "raw-token",
    frame: {
      $case: kind,
      value: { symbol: "AAPL", securityId: "296daac7a8fb8382407d2c95", bid: "175.49", ask: "175.51", last: "175.50", bidSize: "100", askSize: "100", volume: "1000", lastSize: "1", timestamp: new Date(), seq: String(seq) },
    },
  });

const server = new grpc.Server();
server.addService(
  {
    streamQuotes: {
      path: `/${MarketDataServiceDefinition.fullName}/StreamQuotes`,
      requestStream: false,
      responseStream: true,
      requestSerialize: (value: StreamQuotesRequest) => Buffer.from(StreamQuotesRequest.encode(value).finish()),
      requestDeserialize: (bytes: Buffer) => StreamQuotesRequest.decode(bytes),
      responseSerialize: (value: StreamQuotesResponse) => Buffer.from(StreamQuotesResponse.encode(value).finish()),
      responseDeserialize: (bytes: Buffer) => StreamQuotesResponse.decode(bytes),
    },
  },
  {
    streamQuotes: (call: grpc.ServerWritableStream<StreamQuotesRequest, StreamQuotesResponse>) => {
      streams.add(call);
      call.on("cancelled", () => streams.delete(call));
      call.on("error", () => streams.delete(call));
      call.write(frame("snapshot"));
    },
  },
);

server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, port) => {
  if (error) throw error;
  process.stdout.write(`${JSON.stringify({ grpcPort: port })}\n`);
});

readline.createInterface({ input: process.stdin }).on("line", (line) => {
  const [command, rate, seconds] = line.trim().split(" ");
  if (command === "memory") process.stdout.write(`${JSON.stringify(readMemory())}\n`);
  if (command === "run") {
    const total = Math.round(Number(rate) * Number(seconds));
    let sent = 0;
    const timer = setInterval(() => {
      seq += 1;
      const update = frame("update");
      for (const call of streams) call.write(update);
      if (++sent >= total) {
        clearInterval(timer);
        process.stdout.write("done\n");
      }
    }, 1000 / Number(rate));
  }
});
process.stdin.on("end", () => server.tryShutdown(() => process.exit(0)));
