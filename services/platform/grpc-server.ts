// Assembles the gRPC server every tradeplane service runs in: nice-grpc service implementations and middleware,
// health and reflection, explicit message-size and keepalive limits, and a graceful shutdown. The platform's work
// on every call, outermost first: telemetry → metrics → error mapping → deadline check → shutdown signal → auth →
// rate limit. Metrics sit outside the error mapping so they count the status the client really gets; auth and rate
// limiting apply to the application services only, never to health or reflection.
//
// Unary calls, nearly all the traffic, are answered here without nice-grpc's generic call machinery: one handler
// per method runs those steps as plain function calls (telemetry.ts, metrics.ts, error-mapping.ts, auth.ts,
// rate-limit.ts) with a call context whose parts are built only when a handler reads them. A chain of async
// generator middleware, nice-grpc's per-call AbortController, listeners and metadata copies cost more CPU than
// grpc-js itself on a small call. Server-streaming calls (quote feeds with thousands of subscribers) get the same
// treatment: the steps run once before the first frame, then frames go straight to grpc-js. Client- and
// bidi-streaming calls, few and long, keep nice-grpc's own handlers with the same steps as middleware. Handlers see
// the same context and the same statuses, details and trailers either way.
//
// `invokeUnary` runs that same unary pipeline for a caller in this process (the HTTP bridge in the one-process
// mode): the request object goes straight to the handler and the response object comes straight back, without
// protobuf encoding or HTTP/2, and a failure is thrown as the ServerError (RichServerError with its google.rpc
// details) a remote caller would have received. Auth reads the caller's own `authorization` metadata, so what a
// caller may do does not depend on where it sits.
//
// This file is the server's registration and lifecycle. The call paths live beside it: grpc-server-unary.ts,
// grpc-server-stream.ts, grpc-server-in-process.ts, grpc-server-nice-grpc.ts (client and bidi streams), and
// grpc-server-call-context.ts (what they share).
import * as grpc from '@grpc/grpc-js';
import type { CompatServiceDefinition, ServiceImplementation } from 'nice-grpc';
import { composeServerMiddleware, ServerError, Status, type ServerMiddleware } from 'nice-grpc-common';
import { createAuthMiddleware, isAuthExempt, type Authenticator } from './auth';
import { createErrorMappingMiddleware } from './error-mapping';
import type { TradeplaneCallContext } from './grpc-server-call-context';
import { fromPartialOf, invokeInProcess, type InProcessCallOptions, type InProcessMethod } from './grpc-server-in-process';
import { deadlineCheckMiddleware, niceGrpcDefinitions, streamingHandlerFactories, type AnyMethodDefinition } from './grpc-server-nice-grpc';
import { acceptingPreEncoded, serverStreamHandler, type ServerStreamMethod } from './grpc-server-stream';
import { unaryHandler, type MethodImplementation, type UnaryMethod } from './grpc-server-unary';
import { createHealthRegistry, HealthDefinition, type Probe, type ServingStatus } from './health';
import type { Logger } from './logger';
import { createMetricsMiddleware, rpcMetricsOf } from './metrics';
import { createRateLimiter, createRateLimitMiddleware, type RateLimitSettings } from './rate-limit';
import { createReflectionServices, DEFAULT_DESCRIPTOR_SET_PATH } from './reflection';
import { createShutdownControl } from './shutdown-middleware';
import { telemetryServerMiddleware } from './telemetry';

export type { TradeplaneCallContext } from './grpc-server-call-context';
export type { InProcessCallOptions } from './grpc-server-in-process';
export { preEncoded } from './grpc-server-stream';

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
  /** True when an application service added here implements `path` (`/pkg.Service/Method`) as a unary method. */
  servesUnary(path: string): boolean;
  /**
   * Calls a unary method of a service added here, through the same pipeline as a gRPC call (telemetry, metrics,
   * error mapping, deadline, auth from `metadata`, rate limit), and returns its response object as a remote caller
   * would decode it. Throws the ServerError (RichServerError with details) a remote caller would get. Serves only
   * while the server is listening, like the gRPC port.
   */
  invokeUnary(path: string, request: unknown, options?: InProcessCallOptions): Promise<unknown>;
  /** grpc.health.v1 status of a fully-qualified service name, or of the whole server for "". */
  healthStatus(service?: string): ServingStatus;
  /** Reports NOT_SERVING for every service, so load balancers stop sending new calls. */
  drain(): void;
  /** Drains, ends streams, stops accepting, waits up to `graceMs` for in-flight calls, then cancels the rest. */
  shutdown(options?: ShutdownOptions): Promise<void>;
}

const DEFAULT_GRACE_MS = 10_000;
function channelOptionsOf(options: GrpcServerOptions): grpc.ChannelOptions {
  const { keepalive } = options;
  const channel: grpc.ChannelOptions = {
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

interface Registration {
  definition: CompatServiceDefinition;
  implementation: object;
  /** Application services are authenticated and rate limited; health and reflection are not. */
  application: boolean;
}

export function createGrpcServer(options: GrpcServerOptions): TradeplaneServer {
  const logger = options.logger.child({ component: 'grpc' });
  const health = createHealthRegistry({
    logger,
    ...(options.probeIntervalMs === undefined ? {} : { probeIntervalMs: options.probeIntervalMs }),
    ...(options.probeTimeoutMs === undefined ? {} : { probeTimeoutMs: options.probeTimeoutMs }),
  });
  const shutdownControl = createShutdownControl();
  const limiter = options.rateLimit.ratePerSecond > 0 ? createRateLimiter(options.rateLimit) : undefined;
  const streamMiddleware = composeAll(
    telemetryServerMiddleware(),
    createMetricsMiddleware(),
    createErrorMappingMiddleware({ logger }),
    deadlineCheckMiddleware,
    shutdownControl.middleware,
  );
  const applicationStreamMiddleware = composeAll(
    streamMiddleware,
    createAuthMiddleware(options.authenticator),
    ...(limiter === undefined ? [] : [createRateLimitMiddleware(limiter)]),
  );
  const registrations: Registration[] = [];
  const serviceNames: string[] = [];
  const inProcessMethods = new Map<string, InProcessMethod>();
  /** In-process calls still running, which shutdown gives the same grace as calls on the gRPC port. */
  const inProcessCalls = new Set<Promise<unknown>>();
  let server: grpc.Server | undefined;
  let state: 'building' | 'listening' | 'stopping' | 'stopped' = 'building';
  let stopping: Promise<void> | undefined;

  function handlerOf(method: AnyMethodDefinition, implementation: MethodImplementation, application: boolean) {
    if (!method.requestStream && method.responseStream) {
      return serverStreamHandler(serverStreamMethodOf(method.path, implementation, application)) as grpc.UntypedHandleCall;
    }
    if (method.requestStream || method.responseStream) {
      const factory = method.responseStream ? streamingHandlerFactories.bidi : streamingHandlerFactories.client;
      return factory(method, implementation, application ? applicationStreamMiddleware : streamMiddleware);
    }
    return unaryHandler(unaryMethodOf(method.path, implementation, application)) as grpc.UntypedHandleCall;
  }

  function unaryMethodOf(path: string, implementation: MethodImplementation, application: boolean): UnaryMethod {
    return { ...callMethodOf(path, implementation, application), metrics: rpcMetricsOf(path, false, false) };
  }

  function serverStreamMethodOf(path: string, implementation: MethodImplementation, application: boolean): ServerStreamMethod {
    return { ...callMethodOf(path, implementation, application), metrics: rpcMetricsOf(path, false, true), shutdown: shutdownControl };
  }

  /** What unary and server-streaming calls share: auth and rate limit for application methods, logger, shutdown. */
  function callMethodOf(path: string, implementation: MethodImplementation, application: boolean) {
    const authenticated = application && !isAuthExempt(path);
    return {
      path,
      implementation,
      authenticator: authenticated ? options.authenticator : undefined,
      limiter: authenticated ? limiter : undefined,
      logger,
      shutdownSignal: shutdownControl.shutdownSignal,
    };
  }

  /** Makes the unary methods of an application service callable in-process (`invokeUnary`). */
  function addInProcess(definition: CompatServiceDefinition, implementation: object): void {
    const tsProtoMethods = (definition as { methods?: Record<string, { requestType?: unknown; responseType?: unknown }> }).methods;
    for (const [name, method] of Object.entries(niceGrpcDefinitions.normalizeServiceDefinition(definition))) {
      if (method.requestStream || method.responseStream) continue;
      const implementationOf = (implementation as Record<string, MethodImplementation>)[name];
      if (typeof implementationOf !== 'function') continue; // listen() reports it
      inProcessMethods.set(method.path, {
        ...unaryMethodOf(method.path, implementationOf.bind(implementation), true),
        normalizeRequest: fromPartialOf(tsProtoMethods?.[name]?.requestType),
        normalizeResponse: fromPartialOf(tsProtoMethods?.[name]?.responseType),
      });
    }
  }

  function build(): grpc.Server {
    const built = new grpc.Server(channelOptionsOf(options));
    for (const { definition, implementation, application } of registrations) {
      const methods = niceGrpcDefinitions.normalizeServiceDefinition(definition);
      const grpcDefinition: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
      const handlers: grpc.UntypedServiceImplementation = {};
      for (const [name, method] of Object.entries(methods)) {
        const implementationOf = (implementation as Record<string, MethodImplementation>)[name];
        if (typeof implementationOf !== 'function') throw new Error(`no implementation of ${method.path}`);
        const grpcMethod = niceGrpcDefinitions.toGrpcJsMethodDefinition(method);
        grpcDefinition[name] = !method.requestStream && method.responseStream ? acceptingPreEncoded(grpcMethod) : grpcMethod;
        handlers[name] = handlerOf(method, implementationOf.bind(implementation), application);
      }
      built.addService(grpcDefinition, handlers);
    }
    return built;
  }

  return {
    add(definition, implementation, addOptions = {}) {
      if (state !== 'building') throw new Error('services must be added before listen()');
      const name = serviceNameOf(definition);
      health.register(name, addOptions.probe);
      registrations.push({ definition, implementation, application: true });
      serviceNames.push(name);
      addInProcess(definition, implementation);
    },

    servesUnary(path) {
      return inProcessMethods.has(path);
    },

    invokeUnary(path, request, callOptions = {}) {
      const method = inProcessMethods.get(path);
      if (method === undefined) return Promise.reject(new ServerError(Status.UNIMPLEMENTED, `${path} is not a unary method served in this process`));
      // As the gRPC port: nothing before listen(), nothing new once shutdown has begun.
      if (state !== 'listening') return Promise.reject(new ServerError(Status.UNAVAILABLE, 'the server is not serving'));
      const call = invokeInProcess(method, request, callOptions);
      inProcessCalls.add(call);
      const forget = (): void => void inProcessCalls.delete(call);
      call.then(forget, forget);
      return call;
    },

    async listen(host, port) {
      if (state !== 'building') throw new Error('listen() may be called once');
      state = 'listening';
      registrations.push({ definition: HealthDefinition, implementation: health.implementation, application: false });
      for (const reflection of createReflectionServices(serviceNames, options.descriptorSetPath ?? DEFAULT_DESCRIPTOR_SET_PATH)) {
        registrations.push({ definition: reflection.definition, implementation: reflection.implementation, application: false });
      }
      await health.start();
      const address = host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
      let bound: number;
      try {
        const candidate = build();
        bound = await new Promise<number>((resolve, reject) =>
          candidate.bindAsync(address, grpc.ServerCredentials.createInsecure(), (error, boundPort) =>
            error === null ? resolve(boundPort) : reject(error),
          ),
        );
        server = candidate;
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
        const graceMs = shutdownOptions.graceMs ?? DEFAULT_GRACE_MS;
        if (wasListening) await Promise.all([stopAccepting(graceMs), settleInProcessCalls(graceMs)]);
        state = 'stopped';
      })();
      return stopping;
    },
  };

  /** Waits up to `graceMs` for in-process calls in flight, as calls on the port get; later ones finish unobserved. */
  async function settleInProcessCalls(graceMs: number): Promise<void> {
    if (inProcessCalls.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...inProcessCalls]),
      new Promise((resolve) => {
        timer = setTimeout(resolve, graceMs);
      }),
    ]);
    clearTimeout(timer);
  }

  async function stopAccepting(graceMs: number): Promise<void> {
    const running = server;
    if (running === undefined) return;
    let timer: NodeJS.Timeout | undefined;
    const graceful = new Promise<'graceful'>((resolve, reject) =>
      running.tryShutdown((error) => (error === undefined ? resolve('graceful') : reject(error))),
    );
    const deadline = new Promise<'forced'>((resolve) => {
      timer = setTimeout(() => resolve('forced'), graceMs);
    });
    const outcome = await Promise.race([graceful, deadline]);
    clearTimeout(timer);
    if (outcome === 'forced') {
      logger.warn('shutdown grace period over: cancelling the remaining calls', { graceMs });
      running.forceShutdown();
      // The graceful shutdown completes once the forced close has torn every connection down.
      await graceful.catch(() => undefined);
    }
    logger.info('gRPC server stopped', { outcome });
  }
}

/** One middleware running `middleware` in order, outermost first. */
function composeAll(...middleware: ServerMiddleware<any, any>[]): ServerMiddleware<any, any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  return middleware.reduce((outer, inner) => composeServerMiddleware(outer, inner));
}
