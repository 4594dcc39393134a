// Replays a recorded CSV or NDJSON file of ticks into a running market data service through its
// PublishQuotes RPC, at the recorded pace (or faster), re-stamped to the present.
//
//   npx tsx services/marketdata/feed/replay-file.ts ticks.csv [--speed 10] [--address 127.0.0.1:50051]
//
// The token comes from MARKETDATA_TOKEN (role feed or admin; `npm start` prints a development token).
import { readFileSync } from "node:fs";
import { createChannel, createClient, Metadata } from "nice-grpc";
import { MarketDataServiceDefinition } from "../../../generated/tradeplane/marketdata/v1/market_data_service";
import { parseRecordedTicks, restampTicks } from "./recorded-ticks";

const MAX_TICKS_PER_MESSAGE = 1000;

function argument(name: string): string | undefined {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? process.argv[index + 1] : undefined;
}

async function main(): Promise<void> {
  const file = process.argv[2];
  const token = process.env.MARKETDATA_TOKEN;
  if (!file || file.startsWith("--") || !token) {
    console.error("usage: MARKETDATA_TOKEN=<jwt> tsx services/marketdata/feed/replay-file.ts <ticks.csv|ticks.ndjson> [--speed N] [--address host:port]");
    process.exit(2);
  }
  const speed = Number(argument("speed") ?? 1);
  if (!(speed > 0)) throw new Error("--speed must be a positive number");
  const format = file.endsWith(".ndjson") || file.endsWith(".jsonl") ? "ndjson" : "csv";
  const ticks = restampTicks(parseRecordedTicks(readFileSync(file, "utf8"), format), Date.now(), speed).sort((a, b) => a.exchangeTimeMs - b.exchangeTimeMs);

  const channel = createChannel(argument("address") ?? "127.0.0.1:50051");
  const client = createClient(MarketDataServiceDefinition, channel, { "*": { metadata: new Metadata({ authorization: `Bearer ${token}` }) } });
  async function* messages() {
    let index = 0;
    while (index < ticks.length) {
      // Send every tick that is due, in messages of at most 1,000, then sleep until the next one.
      const wait = ticks[index]!.exchangeTimeMs - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      const due = [];
      while (index < ticks.length && ticks[index]!.exchangeTimeMs <= Date.now() && due.length < MAX_TICKS_PER_MESSAGE) due.push(ticks[index++]!);
      yield {
        ticks: due.map((tick) => ({
          symbol: tick.symbol,
          bid: tick.bid,
          ask: tick.ask,
          last: tick.last ?? "",
          bidSize: tick.bidSize ?? "",
          askSize: tick.askSize ?? "",
          lastSize: tick.lastSize ?? "",
          timestamp: new Date(tick.exchangeTimeMs),
        })),
      };
    }
  }
  try {
    const result = await client.publishQuotes(messages());
    console.log(JSON.stringify({ file, ticks: ticks.length, accepted: Number(result.acceptedCount), rejected: Number(result.rejectedCount), rejections: result.rejections.slice(0, 20) }, null, 2));
  } finally {
    channel.close();
  }
}

main().catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
