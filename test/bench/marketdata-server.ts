// Starts the market data service alone for a benchmark, in this process or as a child process
// (`node --import tsx test/bench/marketdata-server.ts`), and reports where it listens. Backends follow
// the environment like everywhere else: DATABASE_URL / REDIS_URL when set, embedded otherwise.
import { mkdtempSync, rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as readline from "node:readline";
import { register } from "../../services/marketdata/main";
import { createLogger } from "../../services/platform/logger";
import { startServices } from "../../services/platform/runtime";
import { readMemory } from "./marketdata-memory";

export interface BenchServer {
  grpcPort: number;
  httpPort: number;
  /** A token with the admin and feed roles, valid for an hour. */
  token: string;
  stop(): Promise<void>;
}

export const BENCH_SECRET = "bench-secret-0123456789abcdef0123456789";

/** The market data service with benchmark settings: no simulator, no rate limit, generous stream quotas. */
export async function startMarketDataForBench(extraEnv: Record<string, string> = {}): Promise<BenchServer> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "tradeplane-bench-"));
  const env: NodeJS.ProcessEnv = {
    GRPC_PORT: "0",
    HTTP_PORT: "0",
    DATA_DIR: dataDir,
    JWT_SECRET: BENCH_SECRET,
    RATE_LIMIT_PER_SECOND: "0",
    LOG_LEVEL: "silent",
    SHUTDOWN_GRACE: "1000",
    MARKETDATA_SIMULATOR_RATE: "0",
    MARKETDATA_MAX_STREAMS_PER_CALLER: "100000",
    MARKETDATA_BUS_NAMESPACE: `bench-${process.pid}-${Date.now()}:`,
    ...(process.env.DATABASE_URL ? { DATABASE_URL: process.env.DATABASE_URL } : {}),
    ...(process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {}),
    ...extraEnv,
  };
  const running = await startServices([register], env, { logger: createLogger({ name: "bench", level: "silent" }) });
  const token = await running.runtime.issueToken({ sub: "bench", roles: ["admin", "feed", "trader"], portfolios: ["*"] }, 3600);
  return {
    grpcPort: running.ports.grpc,
    httpPort: running.ports.http,
    token,
    async stop() {
      await running.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

// As a child process: start, print the ports and token as one JSON line, stop when stdin closes. A `memory`
// line on stdin is answered with this process's MemoryReading as one JSON line (start it with --expose-gc).
if (require.main === module) {
  startMarketDataForBench(JSON.parse(process.env.BENCH_SERVER_ENV ?? "{}") as Record<string, string>)
    .then((server) => {
      process.stdout.write(`${JSON.stringify({ grpcPort: server.grpcPort, httpPort: server.httpPort, token: server.token })}\n`);
      const stop = () => void server.stop().then(() => process.exit(0));
      const commands = readline.createInterface({ input: process.stdin });
      commands.on("line", (line) => {
        if (line.trim() === "memory") process.stdout.write(`${JSON.stringify(readMemory())}\n`);
      });
      commands.on("close", stop);
      process.on("SIGTERM", stop);
    })
    .catch((error) => {
      console.error(error);
      process.exit(1);
    });
}
