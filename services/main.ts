// Runs tradeplane in one process: every selected service (SERVICES, default all) on one gRPC port, the HTTP bridge
// and /metrics on the HTTP port, with embedded backends unless DATABASE_URL / REDIS_URL / AMQP_URL are set.
// `npm start` runs this file.
import type { CompatServiceDefinition } from "nice-grpc";
import { AccountingServiceDefinition } from "../generated/tradeplane/accounting/v1/accounting_service";
import { AllocationServiceDefinition } from "../generated/tradeplane/accounting/v1/allocation_service";
import { MarketDataServiceDefinition } from "../generated/tradeplane/marketdata/v1/market_data_service";
import { ModelServiceDefinition } from "../generated/tradeplane/optimization/v1/model_service";
import { RebalanceServiceDefinition } from "../generated/tradeplane/optimization/v1/rebalance_service";
import { OrderServiceDefinition } from "../generated/tradeplane/orders/v1/order_service";
import { ConfigError } from "./platform/config";
import {
  SERVICE_NAMES,
  createRuntime,
  loadRuntimeConfig,
  type RegisterService,
  type Runtime,
  type ServiceName,
} from "./platform/runtime";
import { unimplementedService } from "./platform/unimplemented";

/** The gRPC services each module serves, for the UNIMPLEMENTED stand-in when a module is not built yet. */
const GRPC_SERVICES: Record<ServiceName, Record<string, CompatServiceDefinition>> = {
  marketdata: { "tradeplane.marketdata.v1.MarketDataService": MarketDataServiceDefinition },
  accounting: {
    "tradeplane.accounting.v1.AccountingService": AccountingServiceDefinition,
    "tradeplane.accounting.v1.AllocationService": AllocationServiceDefinition,
  },
  orders: { "tradeplane.orders.v1.OrderService": OrderServiceDefinition },
  optimization: {
    "tradeplane.optimization.v1.ModelService": ModelServiceDefinition,
    "tradeplane.optimization.v1.RebalanceService": RebalanceServiceDefinition,
  },
  gateway: {},
};

/** Loads `services/<name>/main.ts`'s `register`, or a stand-in answering UNIMPLEMENTED if the module is absent. */
export function registrationOf(name: ServiceName): RegisterService {
  let loaded: { register?: RegisterService };
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    loaded = require(`./${name}/main`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "MODULE_NOT_FOUND" || !String(error).includes(`${name}/main`)) throw error;
    loaded = {};
  }
  if (loaded.register) return loaded.register;
  return async (runtime: Runtime) => {
    runtime.logger.warn("service not built yet: its RPCs answer UNIMPLEMENTED", { service: name });
    for (const [serviceName, definition] of Object.entries(GRPC_SERVICES[name])) {
      runtime.grpc.add(definition, unimplementedService(definition, serviceName));
    }
  };
}

function banner(runtime: Runtime, ports: { grpc: number; http: number }, token: string): string {
  // A wildcard bind address is not something to connect to; show the loopback address instead.
  const reachable = (host: string) => (host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host);
  const grpc = `${reachable(runtime.config.grpc.host)}:${ports.grpc}`;
  const http = `http://${reachable(runtime.config.http.host)}:${ports.http}`;
  const curl = `npx buf curl --protocol grpc --http2-prior-knowledge`;
  return [
    "",
    "tradeplane is running",
    `  services   ${runtime.config.services.join(", ")}`,
    `  backends   database=${runtime.backends.database} cache=${runtime.backends.cache} broker=${runtime.backends.broker}`,
    `  gRPC       ${grpc}   (reflection v1 and v1alpha, grpc.health.v1)`,
    `  HTTP       ${http}   (bridge, ${http}/openapi.json, ${http}/metrics)`,
    `  dashboard  ${http}/#token=${token}`,
    "",
    "Development token (roles trader, admin, feed; every portfolio; valid 30 days):",
    `  export TOKEN=${token}`,
    "",
    "Try it:",
    `  ${curl} --list-services http://${grpc}`,
    `  ${curl} -H "authorization: Bearer $TOKEN" -d '{"symbol":"AAPL"}' http://${grpc}/tradeplane.marketdata.v1.MarketDataService/GetQuote`,
    `  ${curl} -H "authorization: Bearer $TOKEN" -d '{"symbols":["AAPL","BTC"]}' http://${grpc}/tradeplane.marketdata.v1.MarketDataService/StreamQuotes`,
    `  curl -H "authorization: Bearer $TOKEN" ${http}/api/v1/quotes/AAPL`,
    "",
  ].join("\n");
}

async function main(): Promise<void> {
  const config = loadRuntimeConfig();
  const unknown = config.services.filter((name) => !(SERVICE_NAMES as readonly string[]).includes(name));
  if (unknown.length > 0) throw new ConfigError([{ env: "SERVICES", problem: `unknown service(s) ${unknown.join(", ")}; known: ${SERVICE_NAMES.join(", ")}` }]);
  const runtime = await createRuntime(config);
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    runtime.logger.info("shutting down", { signal });
    await runtime.stop();
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
  try {
    for (const name of config.services as ServiceName[]) await registrationOf(name)(runtime);
    const ports = await runtime.listen();
    const token = await runtime.issueToken({ sub: "developer", roles: ["trader", "admin", "feed"], portfolios: ["*"] }, 30 * 24 * 3600);
    process.stdout.write(banner(runtime, ports, token) + "\n");
  } catch (error) {
    await runtime.stop();
    throw error;
  }
}

if (require.main === module) {
  main().catch((error) => {
    process.stderr.write(`${error instanceof ConfigError ? error.message : error?.stack ?? error}\n`);
    process.exit(1);
  });
}
