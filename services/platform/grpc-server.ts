// Assembles the gRPC server every tradeplane service runs in: nice-grpc with the platform middleware, health and
// reflection, explicit message-size and keepalive limits, and a graceful shutdown. Middleware order (outermost
// first): telemetry → metrics → error mapping → deadline check → shutdown signal → auth → rate limit. Metrics sit
// outside the error mapping so they count the status the client really gets; auth and rate limiting apply to the
// application services only, never to health or reflection.
import type { ChannelOptions } from '@grpc/grpc-js';
import { createServer, type CompatServiceDefinition, type ServiceImplementation } from 'nice-grpc';
import { ServerError, Status, type ServerMiddleware } from 'nice-grpc-common';
import { createAuthMiddleware, type AuthCallContext, type Authenticator } from './auth';
import { createErrorMappingMiddleware } from './error-mapping';
import { createHealthRegistry, HealthDefinition, type Probe, type ServingStatus } from './health';
import type { Logger } from './logger';
import { createMetricsMiddleware } from './metrics';
import { createRateLimiter, createRateLimitMiddleware, type RateLimitSettings } from './rate-limit';
import { createReflectionServices, DEFAULT_DESCRIPTOR_SET_PATH } from './reflection';
import { createShutdownControl, type ShutdownCallContext } from './shutdown-middleware';
import { telemetryServerMiddleware } from './telemetry';

/** What every application handler finds on its call context (besides `signal`, `metadata`, ...). */
export type TradeplaneCallContext = AuthCallContext & ShutdownCallContext;

export interface KeepaliveSettings {
  /** Idle time after which the server pings a connection to check it is alive. */
  timeMs: number;
  /** How long the server waits for the ping's answer before closing the connection. */
  timeoutMs: number;
  /** Closes connections without calls after this long (unset: never). */
  maxConnectionIdleMs?: number;
  /** Closes every connection after this long so clients rebalance across instances (unset: never). */
  maxConnectionAgeMs?: number;
  /** Time granted to calls on a connection closed for its age. */
  maxConnectionAgeGraceMs?: number;
}

export interface GrpcServerOptions {
  logger: Logger;
  authenticator: Authenticator;
  /** Per-principal limit; `ratePerSecond: 0` turns it off. */
  rateLimit: RateLimitSettings;
  maxReceiveMessageBytes: number;
  maxSendMessageBytes: number;
  keepalive: KeepaliveSettings;
  /** Concurrent streams (calls) per connection. */
  maxConcurrentStreams?: number;
  probeIntervalMs?: number;
  probeTimeoutMs?: number;
  /** Descriptor set served by reflection; defaults to generated/tradeplane.binpb. */
  descriptorSetPath?: string;
}

export interface AddOptions {
  /** Checks the service's dependencies; drives its grpc.health.v1 status. */
  probe?: Probe;
}

export interface ShutdownOptions {
  /** Time in-flight calls and streams get to finish before they are cancelled. */
  graceMs?: number;
}

export interface TradeplaneServer {
  add<S extends CompatServiceDefinition>(
    definition: S,
    implementation: ServiceImplementation<S, TradeplaneCallContext>,
    options?: AddOptions,
  ): void;
  /** Binds `host:port` (port 0 picks a free one), runs the first health probes, and returns the bound port. */
  listen(host: string, port: number): Promise<number>;
  /** grpc.health.v1 status of a fully-qualified service name, or of the whole server for "". */
  healthStatus(service?: string): ServingStatus;
  /** Reports NOT_SERVING for every service, so load balancers stop sending new calls. */
  drain(): void;
  /** Drains, ends streams, stops accepting, waits up to `graceMs` for in-flight calls, then cancels the rest. */
  shutdown(options?: ShutdownOptions): Promise<void>;
}

const DEFAULT_GRACE_MS = 10_000;

/** Refuses work whose deadline passed (or whose client left) before it started; handlers watch `signal` after. */
const deadlineCheckMiddleware: ServerMiddleware = async function* deadlineCheck(call, context) {
  if (context.signal.aborted) {
    throw new ServerError(Status.CANCELLED, 'the call was cancelled or its deadline passed before it started');
  }
  return yield* call.next(call.request, context);
};

function channelOptionsOf(options: GrpcServerOptions): ChannelOptions {
  const { keepalive } = options;
  const channel: ChannelOptions = {
    'grpc.max_receive_message_length': options.maxReceiveMessageBytes,
    'grpc.max_send_message_length': options.maxSendMessageBytes,
    'grpc.keepalive_time_ms': keepalive.timeMs,
    'grpc.keepalive_timeout_ms': keepalive.timeoutMs,
  };
  if (keepalive.maxConnectionIdleMs !== undefined) channel['grpc.max_connection_idle_ms'] = keepalive.maxConnectionIdleMs;
  if (keepalive.maxConnectionAgeMs !== undefined) channel['grpc.max_connection_age_ms'] = keepalive.maxConnectionAgeMs;
  if (keepalive.maxConnectionAgeGraceMs !== undefined) {
    channel['grpc.max_connection_age_grace_ms'] = keepalive.maxConnectionAgeGraceMs;
  }
  if (options.maxConcurrentStreams !== undefined) channel['grpc.max_concurrent_streams'] = options.maxConcurrentStreams;
  return channel;
}

/** The service's fully-qualified name, from ts-proto's `fullName` or from the path of its first method. */
function serviceNameOf(definition: CompatServiceDefinition): string {
  const named = definition as { fullName?: unknown; methods?: Record<string, { path?: string }> };
  if (typeof named.fullName === 'string') return named.fullName;
  const methods = (named.methods ?? definition) as Record<string, { path?: string }>;
  const firstPath = Object.values(methods)[0]?.path ?? '';
  const match = /^\/([^/]+)\//.exec(firstPath);
  if (match === null) throw new Error('cannot tell the name of a service definition without methods');
  return match[1]!;
}

export function createGrpcServer(options: GrpcServerOptions): TradeplaneServer {
  const logger = options.logger.child({ component: 'grpc' });
  const health = createHealthRegistry({
    logger,
    ...(options.probeIntervalMs === undefined ? {} : { probeIntervalMs: options.probeIntervalMs }),
    ...(options.probeTimeoutMs === undefined ? {} : { probeTimeoutMs: options.probeTimeoutMs }),
  });
  const shutdownControl = createShutdownControl();
  const server = createServer(channelOptionsOf(options))
    .use(telemetryServerMiddleware())
    .use(createMetricsMiddleware())
    .use(createErrorMappingMiddleware({ logger }))
    .use(deadlineCheckMiddleware)
    .use(shutdownControl.middleware);
  const authenticated = server.with(createAuthMiddleware(options.authenticator));
  const application =
    options.rateLimit.ratePerSecond > 0
      ? authenticated.with(createRateLimitMiddleware(createRateLimiter(options.rateLimit)))
      : authenticated;
  const serviceNames: string[] = [];
  let state: 'building' | 'listening' | 'stopping' | 'stopped' = 'building';
  let stopping: Promise<void> | undefined;

  return {
    add(definition, implementation, addOptions = {}) {
      if (state !== 'building') throw new Error('services must be added before listen()');
      const name = serviceNameOf(definition);
      health.register(name, addOptions.probe);
      application.add(definition, implementation);
      serviceNames.push(name);
    },

    async listen(host, port) {
      if (state !== 'building') throw new Error('listen() may be called once');
      state = 'listening';
      server.add(HealthDefinition, health.implementation);
      for (const reflection of createReflectionServices(serviceNames, options.descriptorSetPath ?? DEFAULT_DESCRIPTOR_SET_PATH)) {
        server.add(reflection.definition, reflection.implementation as never);
      }
      await health.start();
      const address = host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
      let bound: number;
      try {
        bound = await server.listen(address);
      } catch (error) {
        // Nothing is served, so nothing is left to probe; the error (e.g. the port is taken) is the caller's to report.
        health.stop();
        state = 'stopped';
        throw error;
      }
      logger.info('gRPC server listening', { host, port: bound, services: serviceNames });
      return bound;
    },

    healthStatus(service = '') {
      return health.status(service);
    },

    drain() {
      if (!health.draining) logger.info('draining: reporting NOT_SERVING');
      health.drain();
    },

    shutdown(shutdownOptions = {}) {
      stopping ??= (async () => {
        const wasListening = state === 'listening';
        state = 'stopping';
        this.drain();
        shutdownControl.terminate();
        if (wasListening) await stopAccepting(shutdownOptions.graceMs ?? DEFAULT_GRACE_MS);
        state = 'stopped';
      })();
      return stopping;
    },
  };

  async function stopAccepting(graceMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const graceful = server.shutdown().then(() => 'graceful' as const);
    const deadline = new Promise<'forced'>((resolve) => {
      timer = setTimeout(() => resolve('forced'), graceMs);
    });
    const outcome = await Promise.race([graceful, deadline]);
    clearTimeout(timer);
    if (outcome === 'forced') {
      logger.warn('shutdown grace period over: cancelling the remaining calls', { graceMs });
      server.forceShutdown();
      // The graceful shutdown completes once the forced close has torn every connection down.
      await graceful.catch(() => undefined);
    }
    logger.info('gRPC server stopped', { outcome });
  }
}
