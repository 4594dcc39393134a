// The configuration keys every tradeplane process shares (ports, limits, auth, telemetry), declared once so each
// service's config.ts spreads them instead of inventing its own names. Service-specific keys stay in the service.
import { createAuthenticator } from './auth';
import { bool, durationMs, int, list, oneOf, str, url, type ConfigOf } from './config';
import type { GrpcServerOptions } from './grpc-server';
import type { Logger } from './logger';
import type { TelemetrySettings } from './telemetry';

const MIB = 1024 * 1024;

export const platformConfigSpec = {
  grpc: {
    host: str({ env: 'GRPC_HOST', default: '127.0.0.1' }),
    port: int({ env: 'GRPC_PORT', default: 50051, min: 0, max: 65535 }),
    maxReceiveMessageBytes: int({ env: 'GRPC_MAX_RECEIVE_MESSAGE_BYTES', default: 4 * MIB, min: 1024, max: 64 * MIB }),
    maxSendMessageBytes: int({ env: 'GRPC_MAX_SEND_MESSAGE_BYTES', default: 4 * MIB, min: 1024, max: 64 * MIB }),
    maxConcurrentStreams: int({ env: 'GRPC_MAX_CONCURRENT_STREAMS', default: 1000, min: 1 }),
    keepaliveTimeMs: durationMs({ env: 'GRPC_KEEPALIVE_TIME', default: 60_000, minMs: 1_000 }),
    keepaliveTimeoutMs: durationMs({ env: 'GRPC_KEEPALIVE_TIMEOUT', default: 20_000, minMs: 1_000 }),
    maxConnectionAgeMs: durationMs({ env: 'GRPC_MAX_CONNECTION_AGE', optional: true, minMs: 1_000 }),
    shutdownGraceMs: durationMs({ env: 'SHUTDOWN_GRACE', default: 10_000 }),
    healthProbeIntervalMs: durationMs({ env: 'HEALTH_PROBE_INTERVAL', default: 5_000, minMs: 100 }),
  },
  http: {
    host: str({ env: 'HTTP_HOST', default: '127.0.0.1' }),
    port: int({ env: 'HTTP_PORT', default: 8080, min: 0, max: 65535 }),
  },
  auth: {
    /** Unset: the one-process runner may generate a random development secret (and print a token for it). */
    jwtSecret: str({ env: 'JWT_SECRET', optional: true, minLength: 32, secret: true }),
    jwtIssuer: str({ env: 'JWT_ISSUER', default: 'tradeplane' }),
    jwtAudience: str({ env: 'JWT_AUDIENCE', default: 'tradeplane' }),
    rateLimitPerSecond: int({ env: 'RATE_LIMIT_PER_SECOND', default: 200, min: 0 }),
    rateLimitBurst: int({ env: 'RATE_LIMIT_BURST', default: 400, min: 1 }),
  },
  /**
   * Unary calls to a peer service in this process go through its server's pipeline as objects instead of over
   * loopback gRPC (`false` forces gRPC, e.g. to compare the two in a benchmark). A peer with an address is always gRPC.
   */
  inProcessCalls: bool({
    env: 'IN_PROCESS_CALLS',
    default: true,
    description: 'call unary methods of peer services running in this process in-process (same auth, deadline and errors), not over gRPC',
  }),
  log: {
    level: oneOf(['debug', 'info', 'warn', 'error', 'silent'] as const, { env: 'LOG_LEVEL', default: 'info' }),
  },
  telemetry: {
    serviceName: str({ env: 'OTEL_SERVICE_NAME', default: 'tradeplane' }),
    exporter: oneOf(['none', 'console', 'otlp'] as const, { env: 'OTEL_TRACES_EXPORTER', default: 'none' }),
    otlpEndpoint: url({ env: 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', optional: true, protocols: ['http', 'https'] }),
  },
  /** Services this process runs (the one-process runner's SERVICES). */
  services: list({
    env: 'SERVICES',
    default: ['marketdata', 'orders', 'accounting', 'optimization', 'gateway'],
    allowed: ['marketdata', 'orders', 'accounting', 'optimization', 'gateway'],
  }),
};

export type PlatformConfig = ConfigOf<typeof platformConfigSpec>;

/** Server options from the shared keys; `jwtSecret` is passed separately as it may be generated at startup. */
export function grpcServerOptionsOf(config: PlatformConfig, logger: Logger, jwtSecret: string): GrpcServerOptions {
  const { grpc, auth } = config;
  return {
    logger,
    authenticator: createAuthenticator({ secret: jwtSecret, issuer: auth.jwtIssuer, audience: auth.jwtAudience }),
    rateLimit: { ratePerSecond: auth.rateLimitPerSecond, burst: auth.rateLimitBurst },
    maxReceiveMessageBytes: grpc.maxReceiveMessageBytes,
    maxSendMessageBytes: grpc.maxSendMessageBytes,
    maxConcurrentStreams: grpc.maxConcurrentStreams,
    keepalive: {
      timeMs: grpc.keepaliveTimeMs,
      timeoutMs: grpc.keepaliveTimeoutMs,
      ...(grpc.maxConnectionAgeMs === undefined ? {} : { maxConnectionAgeMs: grpc.maxConnectionAgeMs }),
    },
    probeIntervalMs: grpc.healthProbeIntervalMs,
  };
}

export function telemetrySettingsOf(config: PlatformConfig): TelemetrySettings {
  const { telemetry } = config;
  return {
    serviceName: telemetry.serviceName,
    exporter: telemetry.exporter,
    ...(telemetry.otlpEndpoint === undefined ? {} : { otlpEndpoint: telemetry.otlpEndpoint }),
  };
}
