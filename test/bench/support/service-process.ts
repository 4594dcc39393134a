// Runs tradeplane services in a process of their own for a benchmark, so the load generator's encoding and
// decoding is not charged to the server (as with any real caller). Usage:
//   node --import tsx test/bench/support/service-process.ts accounting [orders ...]
// The process gets the node flags `npm start` gives the services (package.json's start script), so a bench measures
// the process users run; BENCH_SERVICE_NODE_ARGS adds flags after them (the last of a repeated flag wins), e.g.
// "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the services.
// Reads its configuration from the environment, prints one JSON line {"grpcPort":…,"httpPort":…} once listening,
// and stops gracefully on SIGTERM.
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import * as readline from "node:readline";
import { registrationOf } from "../../../services/main";
import { createLogger } from "../../../services/platform/logger";
import { startServices, type ServiceName } from "../../../services/platform/runtime";

export interface ServiceProcess {
  grpcPort: number;
  httpPort: number;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** Starts the named services in a child process with `env` and resolves once they listen. */
export function startServiceProcess(services: readonly ServiceName[], env: NodeJS.ProcessEnv): Promise<ServiceProcess> {
  // BENCH_SERVICE_NODE_ARGS passes node flags to the service process only, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
  const nodeArgs = [...startScriptNodeFlags(), ...(process.env.BENCH_SERVICE_NODE_ARGS ?? "").split(" ").filter((arg) => arg !== "")];
  const child = spawn(process.execPath, [...nodeArgs, "--import", "tsx", path.join(__dirname, "service-process.ts"), ...services], {
    env,
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return new Promise((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`service process exited with ${code} before listening`)));
    readline.createInterface({ input: child.stdout! }).once("line", (line) => {
      const { grpcPort, httpPort } = JSON.parse(line) as { grpcPort: number; httpPort: number };
      resolve({
        grpcPort,
        httpPort,
        child,
        stop: async () => {
          child.kill("SIGTERM");
          await exited;
        },
      });
    });
  });
}

/** The node flags of `npm start`: the words of package.json's start script that begin with "--". */
export function startScriptNodeFlags(): string[] {
  const packageJson = JSON.parse(readFileSync(path.join(__dirname, "../../../package.json"), "utf8")) as { scripts: { start: string } };
  return packageJson.scripts.start.split(/\s+/).filter((word) => word.startsWith("--"));
}

/** What BENCH_FAKE_MARKET describes: instruments served by a fixed-quote market data peer in the service process. */
export interface FakeMarketSpec {
  symbol: string;
  securityId: string;
  bid: string;
  ask: string;
  last: string;
}

async function main(): Promise<void> {
  const names = process.argv.slice(2) as ServiceName[];
  const registrations = names.map(registrationOf);
  // A bench that needs fixed quotes (the orders bench) runs the test market data peer beside the services.
  if (process.env.BENCH_FAKE_MARKET) {
    const { FakeMarket } = await import("../../integration/orders/fake-market-data");
    const market = new FakeMarket();
    for (const spec of JSON.parse(process.env.BENCH_FAKE_MARKET) as FakeMarketSpec[]) {
      market.addInstrument(spec.symbol, spec.securityId);
      market.setQuote(spec.symbol, { bid: spec.bid, ask: spec.ask, last: spec.last });
    }
    registrations.unshift(market.register());
  }
  const running = await startServices(registrations, process.env, { logger: createLogger({ name: "bench-server", level: "error" }) });
  process.stdout.write(JSON.stringify({ grpcPort: running.ports.grpc, httpPort: running.ports.http }) + "\n");
  process.once("SIGTERM", () => {
    void running.stop().then(() => process.exit(0));
  });
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
