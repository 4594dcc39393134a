// Starts tradeplane services in-process for a test, the way a user would reach them: a real gRPC server on
// 127.0.0.1 port 0 (and the HTTP bridge on port 0), the run's fresh database, the real Redis and RabbitMQ when
// configured, and typed clients holding a token. Nothing is mocked.
import { createClients, type TradeplaneClients } from "../../clients/node";
import type { TokenClaims } from "../../services/platform/auth";
import { createLogger } from "../../services/platform/logger";
import { startServices, type RegisterService, type Runtime } from "../../services/platform/runtime";
import { realUrls, runDatabaseUrl } from "./backends";

/** The HS256 key every test runtime uses. */
export const TEST_AUTH_SECRET = "tradeplane-test-secret-0123456789abcdef";

export interface TestSystem {
  runtime: Runtime;
  /** host:port of the gRPC server. */
  address: string;
  /** Base URL of the HTTP server (bridge, dashboard, /metrics). */
  httpUrl: string;
  /** Clients with an admin token for every portfolio. */
  clients: TradeplaneClients;
  /** Clients acting as a specific caller. Closed with the system. */
  clientsAs(claims: TokenClaims, options?: { deadlineMs?: number }): Promise<TradeplaneClients>;
  token(claims: TokenClaims): Promise<string>;
  stop(): Promise<void>;
}

export interface StartSystemOptions {
  /** Extra environment (service config keys), merged over the test defaults. */
  env?: Record<string, string | undefined>;
  /** Show logs (LOG_LEVEL); silent by default so test output stays readable. */
  logLevel?: "debug" | "info" | "warn" | "error" | "silent";
}

/** The environment a test runtime reads: free ports, the run's database, real backends when configured. */
export function testEnv(options: StartSystemOptions = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    GRPC_PORT: "0",
    HTTP_PORT: "0",
    DATABASE_URL: runDatabaseUrl(),
    JWT_SECRET: TEST_AUTH_SECRET,
    LOG_LEVEL: options.logLevel ?? process.env.TEST_LOG_LEVEL ?? "silent",
    RATE_LIMIT_PER_SECOND: "0",
    SHUTDOWN_GRACE: "2000",
    REQUIRE_REAL_SERVICES: process.env.REQUIRE_REAL_SERVICES,
  };
  if (realUrls.redis) env.REDIS_URL = realUrls.redis;
  if (realUrls.amqp) env.AMQP_URL = realUrls.amqp;
  for (const [key, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return env;
}

/** Starts the given services (their `register` functions) on one runtime. Stop it in `after()`. */
export async function startSystem(register: readonly RegisterService[], options: StartSystemOptions = {}): Promise<TestSystem> {
  const env = testEnv(options);
  const logger = createLogger({ name: "test", level: (env.LOG_LEVEL as "silent") ?? "silent" });
  const running = await startServices(register, env, { logger });
  const address = `127.0.0.1:${running.ports.grpc}`;
  const opened: TradeplaneClients[] = [];
  const clientsAs = async (claims: TokenClaims, clientOptions: { deadlineMs?: number } = {}) => {
    const token = await running.runtime.issueToken(claims, 3600);
    const clients = createClients({ address, token, deadlineMs: clientOptions.deadlineMs ?? 10_000 });
    opened.push(clients);
    return clients;
  };
  const clients = await clientsAs({ sub: "test-admin", roles: ["admin", "trader", "feed"], portfolios: ["*"] });
  return {
    runtime: running.runtime,
    address,
    httpUrl: `http://127.0.0.1:${running.ports.http}`,
    clients,
    clientsAs,
    token: (claims) => running.runtime.issueToken(claims, 3600),
    async stop() {
      for (const c of opened) c.close();
      await running.stop();
    },
  };
}
