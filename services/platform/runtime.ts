// The runtime of one tradeplane process: everything the services in it share. `services/main.ts` builds one and
// registers every selected service on it (one gRPC port for all of them); a service started alone, or by a test,
// builds its own. Each backend is chosen by configuration alone: a URL set means the real one (PostgreSQL, Redis,
// RabbitMQ), no URL means the embedded stand-in, and REQUIRE_REAL_SERVICES=1 turns a missing URL into an error
// instead of a fallback.
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { createChannel, createClientFactory, ChannelCredentials, type Channel, type CompatServiceDefinition } from "nice-grpc";
import { defaultCallOptions, tradeplaneClientMiddleware, type TradeplaneClient } from "../../clients/node";
import { issueToken, type AuthSettings, type Authenticator, type TokenClaims } from "./auth";
import { createAmqpBroker } from "./broker-amqp";
import type { DeadLetterAdmin } from "./broker-topology";
import { createMemoryBroker } from "./broker-memory";
import { createMemoryCache } from "./cache-memory";
import { createRedisCache } from "./cache-redis";
import { bool, durationMs, int, loadConfig, str, url, type ConfigOf } from "./config";
import { grpcServerOptionsOf, platformConfigSpec, telemetrySettingsOf } from "./platform-config";
import { openDatabase, type Database } from "./database";
import { startEmbeddedPostgres } from "./embedded-postgres";
import { createGrpcServer, type TradeplaneServer } from "./grpc-server";
import { createInProcessClient } from "./in-process-client";
import { createHttpServer, type TradeplaneHttpServer as HttpServer } from "./http-server";
import { createLogger, type Logger } from "./logger";
import type { Broker, Cache, QueueSpec, StreamBus } from "./messaging";
import { createMemoryStreamBus } from "./stream-bus-memory";
import { createRedisStreamBus } from "./stream-bus-redis";
import { setupTelemetry, traceContextClientMiddleware } from "./telemetry";
import { startOutboxRelay, type OutboxRelay, type OutboxRelayOptions } from "./outbox";

/** The services a process can run; `SERVICES` selects a subset. */
export const SERVICE_NAMES = ["marketdata", "accounting", "orders", "optimization", "gateway"] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

/** Where a service's gRPC peers are: unset means "in this process" (the one-process mode). */
const peerAddress = (service: string) =>
  str({ env: `${service.toUpperCase()}_ADDRESS`, optional: true, description: `host:port of the ${service} gRPC service when it runs elsewhere` });

/** The shared platform keys (ports, limits, auth, telemetry, SERVICES) plus the backends and peers of a process. */
export const runtimeConfigSpec = {
  ...platformConfigSpec,
  databaseUrl: url({ env: "DATABASE_URL", optional: true, secret: true, description: "PostgreSQL URL; unset runs embedded PGlite" }),
  redisUrl: url({ env: "REDIS_URL", optional: true, secret: true, description: "Redis URL; unset uses the in-process cache and quote bus" }),
  amqpUrl: url({ env: "AMQP_URL", optional: true, secret: true, description: "RabbitMQ URL; unset uses the in-process broker" }),
  requireRealServices: bool({ env: "REQUIRE_REAL_SERVICES", default: false, description: "fail instead of falling back to embedded backends" }),
  dataDir: str({ env: "DATA_DIR", default: ".data", description: "where embedded Postgres and the development key live" }),
  busRetention: int({ env: "QUOTE_BUS_RETENTION", default: 10_000, description: "entries kept per quote stream for resume" }),
  clientDeadlineMs: durationMs({ env: "CLIENT_DEADLINE", default: 5_000, description: "default deadline of calls between services" }),
  peers: {
    marketdata: peerAddress("marketdata"),
    accounting: peerAddress("accounting"),
    orders: peerAddress("orders"),
    optimization: peerAddress("optimization"),
  },
};

export type RuntimeConfig = ConfigOf<typeof runtimeConfigSpec>;
export type PeerName = keyof RuntimeConfig["peers"];

/** Reads the runtime configuration from the environment (all problems reported at once). */
export function loadRuntimeConfig(env: NodeJS.ProcessEnv = process.env): RuntimeConfig {
  return loadConfig(runtimeConfigSpec, env);
}

export interface Runtime {
  config: RuntimeConfig;
  /** The environment the runtime was built from: services read their own keys from it (`loadConfig(spec, runtime.env)`). */
  env: NodeJS.ProcessEnv;
  logger: Logger;
  grpc: TradeplaneServer;
  http: HttpServer;
  auth: AuthSettings;
  authenticator: Authenticator;
  /** A token with role `service` and every portfolio, for calls between services. */
  serviceToken: string;
  /** The PostgreSQL URL every service's database uses (real, or the embedded server's). */
  databaseUrl: string;
  cache: Cache;
  bus: StreamBus;
  /** The broker, with dead letter administration and `declare` (both implementations have them). */
  broker: Broker & DeadLetterAdmin & { declare(queue: QueueSpec): Promise<void> };
  /** Which backends are real, for logs and health. */
  backends: { database: "postgres" | "embedded"; cache: "redis" | "memory"; broker: "rabbitmq" | "memory" };
  /** Opens a service's database (own schema, migrations run now); closed when the runtime stops. */
  openDatabase(schema: string, migrationsDir?: string, poolMax?: number): Promise<Database>;
  /**
   * A typed client to a peer service: its configured address, or this process's own gRPC port. The channel opens on
   * the first call, so clients may be created before `listen()`. Unary methods of a peer without an address that
   * this process serves are called in-process (in-process-client.ts) unless IN_PROCESS_CALLS=false or
   * `options.inProcess` is false (a client of already encoded bytes, like the HTTP bridge's, needs the wire). Either
   * way every call sends the active trace context, so the callee continues the caller's trace (telemetry.ts).
   */
  client<D extends CompatServiceDefinition>(definition: D, peer: PeerName, options?: { inProcess?: boolean }): TradeplaneClient<D>;
  /**
   * Starts the outbox relay of a service's database with the process defaults (publish timeout, batch size, and,
   * with the in-process broker, a replay window so a restart re-publishes what the broker held only in memory);
   * stopped at `stop()` before the pool closes.
   */
  startOutboxRelay(database: Database, options?: Partial<Omit<OutboxRelayOptions, "knex" | "schema" | "broker">>): OutboxRelay;
  /** Mints a token (tests, the dev token `npm start` prints). */
  issueToken(claims: TokenClaims, ttlSeconds: number): Promise<string>;
  /** Registers cleanup run at `stop()`, newest first (workers before the pools they use). */
  onStop(stop: () => Promise<void> | void): void;
  /** Binds the gRPC and HTTP ports; returns the bound ports. */
  listen(): Promise<{ grpc: number; http: number }>;
  /** Graceful shutdown: health NOT_SERVING, drain calls and streams, stop workers, close pools and connections. */
  stop(): Promise<void>;
}

export interface RuntimeOverrides {
  /** Use this logger instead of one built from LOG_LEVEL (tests pass a silent one). */
  logger?: Logger;
  /** The environment services read their own keys from; defaults to process.env. */
  env?: NodeJS.ProcessEnv;
}

/** A stable development key under DATA_DIR, so the token `npm start` prints stays valid across restarts. */
function developmentSecret(dataDir: string): string {
  const file = path.join(dataDir, "dev-auth-secret");
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(32).toString("base64url");
  writeFileSync(file, secret + "\n", { mode: 0o600 });
  return secret;
}

function missingRealServices(config: RuntimeConfig): string[] {
  const missing: string[] = [];
  if (!config.databaseUrl) missing.push("DATABASE_URL");
  if (!config.redisUrl) missing.push("REDIS_URL");
  if (!config.amqpUrl) missing.push("AMQP_URL");
  return missing;
}

/** Builds the shared runtime: connects (or starts) the backends and assembles the gRPC and HTTP servers. */
export async function createRuntime(config: RuntimeConfig, overrides: RuntimeOverrides = {}): Promise<Runtime> {
  if (config.requireRealServices) {
    const missing = missingRealServices(config);
    if (missing.length > 0) {
      throw new Error(`REQUIRE_REAL_SERVICES=1 but ${missing.join(", ")} ${missing.length === 1 ? "is" : "are"} not set`);
    }
  }
  const logger = overrides.logger ?? createLogger({ name: "tradeplane", level: config.log.level });
  const stops: (() => Promise<void> | void)[] = [];
  const onStop = (stop: () => Promise<void> | void) => void stops.push(stop);
  const stopAll = async () => {
    while (stops.length > 0) {
      const stop = stops.pop()!;
      try {
        await stop();
      } catch (error) {
        logger.error("error while stopping", { error: String(error) });
      }
    }
  };

  try {
    const telemetry = setupTelemetry(telemetrySettingsOf(config));
    onStop(() => telemetry.shutdown());

    const auth: AuthSettings = {
      secret: config.auth.jwtSecret ?? developmentSecret(config.dataDir),
      issuer: config.auth.jwtIssuer,
      audience: config.auth.jwtAudience,
    };
    const grpcOptions = grpcServerOptionsOf(config, logger, auth.secret);
    const authenticator = grpcOptions.authenticator;
    const serviceToken = await issueToken(auth, { sub: "tradeplane-service", roles: ["service"], portfolios: ["*"] }, 10 * 365 * 24 * 3600);

    let databaseUrl = config.databaseUrl;
    if (!databaseUrl) {
      const embedded = await startEmbeddedPostgres({ dataDir: path.join(config.dataDir, "pg") });
      onStop(() => embedded.stop());
      databaseUrl = embedded.url;
      logger.info("embedded PostgreSQL (PGlite) started", { dataDir: path.join(config.dataDir, "pg") });
    }

    const cache: Cache = config.redisUrl
      ? createRedisCache({ url: config.redisUrl, commandTimeoutMs: 50 })
      : createMemoryCache({ maxEntries: 100_000 });
    onStop(() => cache.close());
    const bus: StreamBus = config.redisUrl
      ? createRedisStreamBus({ url: config.redisUrl, retention: config.busRetention, blockMs: 1_000, logger })
      : createMemoryStreamBus({ retention: config.busRetention, logger });
    onStop(() => bus.close());
    const broker = config.amqpUrl
      ? await createAmqpBroker({ url: config.amqpUrl, logger, publishTimeoutMs: 5_000, connectionName: `tradeplane-${process.pid}` })
      : createMemoryBroker();
    onStop(() => broker.close());

    const grpc = createGrpcServer(grpcOptions);
    const http = createHttpServer({ logger });

    const databases: Database[] = [];
    const channels = new Map<string, Channel>();
    let ownGrpcPort: number | undefined;
    const channelTo = (peer: PeerName): Channel => {
      const address = config.peers[peer] ?? (ownGrpcPort === undefined ? undefined : `127.0.0.1:${ownGrpcPort}`);
      if (address === undefined) throw new Error(`no address for ${peer}: set ${peer.toUpperCase()}_ADDRESS or call listen() first`);
      let channel = channels.get(address);
      if (!channel) {
        channel = createChannel(address, ChannelCredentials.createInsecure());
        channels.set(address, channel);
      }
      return channel;
    };
    const clientOptions = { token: serviceToken, deadlineMs: config.clientDeadlineMs };
    // clients/node's `createServiceClient` with the caller's trace context sent first (telemetry.ts), so the callee's
    // span continues the trace of the call being handled here.
    const peerClientFactory = createClientFactory().use(traceContextClientMiddleware()).use(tradeplaneClientMiddleware());
    const peerClient = <D extends CompatServiceDefinition>(definition: D, channel: Channel): TradeplaneClient<D> =>
      peerClientFactory.create(definition, channel, { "*": defaultCallOptions(clientOptions) }) as TradeplaneClient<D>;
    let listening = false;
    let stopped: Promise<void> | undefined;

    const runtime: Runtime = {
      config,
      env: overrides.env ?? process.env,
      logger,
      grpc,
      http,
      auth,
      authenticator,
      serviceToken,
      databaseUrl,
      cache,
      bus,
      broker,
      backends: {
        database: config.databaseUrl ? "postgres" : "embedded",
        cache: config.redisUrl ? "redis" : "memory",
        broker: config.amqpUrl ? "rabbitmq" : "memory",
      },
      async openDatabase(schema, migrationsDir, poolMax) {
        const database = await openDatabase({ url: databaseUrl!, schema, migrationsDir, poolMax, logger });
        databases.push(database);
        onStop(() => database.close());
        return database;
      },
      client(definition, peer, options = {}) {
        // The channel is resolved on first use: in the one-process mode the own port is known only after listen().
        let channelClient: TradeplaneClient<typeof definition> | undefined;
        const overGrpc = () => (channelClient ??= peerClient(definition, channelTo(peer)));
        if (config.inProcessCalls && options.inProcess !== false && config.peers[peer] === undefined) {
          return createInProcessClient(definition, { server: grpc, overGrpc, defaults: defaultCallOptions(clientOptions) });
        }
        return new Proxy({} as TradeplaneClient<typeof definition>, {
          get: (_target, method) => (overGrpc() as Record<string | symbol, unknown>)[method],
        });
      },
      startOutboxRelay(database, options = {}) {
        const relay = startOutboxRelay({
          knex: database.knex,
          schema: database.schema,
          broker,
          logger: logger.child({ component: "outbox", schema: database.schema }),
          batchSize: 200,
          pollIntervalMs: 250,
          publishTimeoutMs: 5_000,
          maxBackoffMs: 30_000,
          // RabbitMQ keeps what it confirmed; the in-process broker loses it on restart, so the outbox replays the
          // last hour of published rows at start and consumers drop the copies they already handled.
          ...(config.amqpUrl ? {} : { replayWindowMs: 60 * 60 * 1000 }),
          ...options,
        });
        onStop(() => relay.stop());
        return relay;
      },
      issueToken: (claims, ttlSeconds) => issueToken(auth, claims, ttlSeconds),
      onStop,
      async listen() {
        if (listening) throw new Error("listen() may be called once");
        listening = true;
        const grpcPort = await grpc.listen(config.grpc.host, config.grpc.port);
        ownGrpcPort = grpcPort;
        const httpPort = await http.listen(config.http.host, config.http.port);
        return { grpc: grpcPort, http: httpPort };
      },
      stop() {
        stopped ??= (async () => {
          grpc.drain();
          await grpc.shutdown({ graceMs: config.grpc.shutdownGraceMs });
          await http.close();
          for (const channel of channels.values()) channel.close();
          await stopAll();
        })();
        return stopped;
      },
    };
    return runtime;
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/** What a service module exports besides `start`: it adds its gRPC services and workers to a runtime. */
export type RegisterService = (runtime: Runtime) => Promise<void>;

/** A service (or several) running on its own runtime, as `start()` returns it. */
export interface RunningService {
  runtime: Runtime;
  ports: { grpc: number; http: number };
  stop(): Promise<void>;
}

/**
 * Runs the given services on a fresh runtime: the `start(config)` of DESIGN.md. Tests pass GRPC_PORT=0 and
 * HTTP_PORT=0 in `env` to run in-process on free ports.
 */
export async function startServices(
  register: readonly RegisterService[],
  env: NodeJS.ProcessEnv = process.env,
  overrides: RuntimeOverrides = {},
): Promise<RunningService> {
  const runtime = await createRuntime(loadRuntimeConfig(env), { env, ...overrides });
  try {
    for (const add of register) await add(runtime);
    const ports = await runtime.listen();
    return { runtime, ports, stop: () => runtime.stop() };
  } catch (error) {
    await runtime.stop();
    throw error;
  }
}
