// Starts the gateway alone for a benchmark, as a child process (`node --import tsx test/bench/gateway-server.ts`):
// it calls market data at MARKETDATA_ADDRESS, like a bridge deployed in front of the services. Prints its HTTP port
// as one JSON line and stops when stdin closes.
import { mkdtempSync, rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { register } from "../../services/gateway/main";
import { createLogger } from "../../services/platform/logger";
import { startServices } from "../../services/platform/runtime";

async function main(): Promise<void> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "tradeplane-bench-gw-"));
  const env: NodeJS.ProcessEnv = {
    GRPC_PORT: "0",
    HTTP_PORT: "0",
    DATA_DIR: dataDir,
    JWT_SECRET: process.env.JWT_SECRET,
    LOG_LEVEL: "silent",
    SHUTDOWN_GRACE: "1000",
    GATEWAY_ACCESS_LOG: "false",
    MARKETDATA_ADDRESS: process.env.MARKETDATA_ADDRESS,
    ...(process.env.DATABASE_URL ? { DATABASE_URL: process.env.DATABASE_URL } : {}),
    ...JSON.parse(process.env.BENCH_GATEWAY_ENV ?? "{}"),
  };
  const running = await startServices([register], env, { logger: createLogger({ name: "bench-gateway", level: "silent" }) });
  process.stdout.write(`${JSON.stringify({ httpPort: running.ports.http })}\n`);
  const stop = () =>
    void running.stop().then(() => {
      rmSync(dataDir, { recursive: true, force: true });
      process.exit(0);
    });
  process.stdin.on("end", stop);
  process.stdin.resume();
  process.on("SIGTERM", stop);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
