// How the bridge calls the services: over gRPC, like any other client. Messages travel as bytes the bridge already
// encoded from JSON, so the definitions here have identity serializers and no generated code sits on the hot path.
//
// Three ways to reach a peer:
// - the service is registered in this process (the one-process mode) and the method is unary: `invokeUnary` of
//   the process's TradeplaneServer runs the same pipeline a gRPC call runs (auth with the caller's header, rate
//   limit, error mapping, metrics, tracing) on message objects, without protobuf bytes or HTTP/2, called through
//   the platform's in-process client (platform/in-process-client.ts) so failures arrive as the same ClientErrors.
//   It costs the bridge a fraction of a grpc-js client call (issue 7's unary benchmark). `GATEWAY_IN_PROCESS=false`
//   turns it off.
//   Streams stay on gRPC below: their back-pressure and cancellation already live in grpc-js and nice-grpc.
// - `<SVC>_ADDRESS` set (the bridge deployed in front of the services): the bridge's own channel and a client with
//   one middleware, nice-grpc-error-details' `errorDetailsClientMiddleware`. Streams pass through one layer per
//   frame, which matters when a tick fans out to a thousand SSE subscribers.
// - unset and not in this process: `runtime.client`, whose channel resolves this process's own gRPC port once it
//   is bound; its clients (clients/node) carry the same error-details middleware.
//
// Authorization stays the services' job: every call carries exactly the caller's own `Authorization` header (or
// none). The runtime's clients default to the service token, so the metadata is always passed explicitly, which
// replaces that default instead of merging with it. Deadlines are enforced here (an abort timer), the same for
// every path, so a late answer reads the same whichever way the call went.
import { ChannelCredentials, createChannel, createClientFactory, Metadata, type Channel, type CompatServiceDefinition } from "nice-grpc";
import { Status } from "nice-grpc-common";
import { errorDetailsClientMiddleware } from "nice-grpc-error-details";
import { inProcessUnaryCall, type UnaryCall } from "../platform/in-process-client";
import type { PeerName, Runtime } from "../platform/runtime";
import { BridgeError, bridgeErrorOf } from "./bridge-error";
import type { BridgeMethod } from "./service-descriptors";

export interface UpstreamCallOptions {
  /** The caller's `authorization` header value, forwarded as is; undefined sends none. */
  authorization?: string;
  /** Extra metadata to forward (e.g. `x-request-id`, `traceparent`). */
  forward?: Record<string, string>;
  /** Milliseconds until the call is cancelled with DEADLINE_EXCEEDED; undefined = no deadline (long streams). */
  timeoutMs?: number;
  /** Aborts the call (the HTTP client went away). */
  signal: AbortSignal;
}

/** Calls a method with encoded messages; failures are thrown as BridgeErrors carrying the google.rpc details. */
export interface Upstream {
  /** True when `method` is unary and served by this process, so `unaryInProcess` can call it without gRPC. */
  servesInProcess(method: BridgeMethod): boolean;
  /** Calls a unary method served by this process with a message object; failures as for `unary`. */
  unaryInProcess(method: BridgeMethod, request: object, options: UpstreamCallOptions): Promise<Record<string, unknown>>;
  unary(method: BridgeMethod, request: Uint8Array, options: UpstreamCallOptions): Promise<Uint8Array>;
  serverStream(method: BridgeMethod, request: Uint8Array, options: UpstreamCallOptions): AsyncIterable<Uint8Array>;
  clientStream(method: BridgeMethod, requests: AsyncIterable<Uint8Array>, options: UpstreamCallOptions): Promise<Uint8Array>;
}

type RawMethod = (request: unknown, options: object) => unknown;

type ServiceClient = Record<string, RawMethod>;

const identity = (bytes: Uint8Array) => bytes;

/** The peer serving a package: `tradeplane.<peer>.v1` (accounting serves AccountingService and AllocationService). */
export function peerOf(serviceTypeName: string): PeerName {
  const peer = serviceTypeName.split(".")[1];
  if (peer !== "marketdata" && peer !== "orders" && peer !== "accounting" && peer !== "optimization") {
    throw new Error(`no peer serves ${serviceTypeName}`);
  }
  return peer;
}

function rawDefinitionOf(methods: readonly BridgeMethod[]): CompatServiceDefinition {
  const definition: Record<string, unknown> = {};
  for (const m of methods) {
    definition[m.descriptor.name] = {
      path: m.grpcPath,
      requestStream: m.kind === "client_streaming" || m.kind === "bidi_streaming",
      responseStream: m.kind === "server_streaming" || m.kind === "bidi_streaming",
      requestSerialize: identity,
      requestDeserialize: identity,
      responseSerialize: identity,
      responseDeserialize: identity,
      // No idempotency level: the bridge never retries; the HTTP client sees 503/429 and decides.
      options: {},
    };
  }
  return definition as CompatServiceDefinition;
}

export interface UpstreamOptions {
  /** Call unary methods of services registered in this process in-process (false: always over gRPC). */
  inProcess: boolean;
}

/**
 * Builds the upstream: own channels to configured peer addresses, in-process calls to unary methods of services in
 * this process, the runtime's clients otherwise.
 */
export function createUpstream(
  runtime: Pick<Runtime, "client" | "config" | "onStop" | "grpc">,
  methods: readonly BridgeMethod[],
  options: UpstreamOptions = { inProcess: true },
): Upstream {
  const clients = new Map<string, ServiceClient>();
  // Decided on first use: calls come after listen(), when every service of the process has been added.
  const inProcess = new Map<BridgeMethod, boolean>();
  const channels = new Map<string, Channel>();
  const factory = createClientFactory().use(errorDetailsClientMiddleware);
  runtime.onStop(() => {
    for (const channel of channels.values()) channel.close();
  });

  const clientOf = (method: BridgeMethod): ServiceClient => {
    const serviceName = method.service.typeName;
    let client = clients.get(serviceName);
    if (client === undefined) {
      const definition = rawDefinitionOf(methods.filter((x) => x.service.typeName === serviceName));
      const peer = peerOf(serviceName);
      const address = runtime.config.peers[peer];
      if (address !== undefined) {
        let channel = channels.get(address);
        if (channel === undefined) {
          channel = createChannel(address, ChannelCredentials.createInsecure(), { "grpc.max_receive_message_length": 16 * 1024 * 1024 });
          channels.set(address, channel);
        }
        client = factory.create(definition, channel) as unknown as ServiceClient;
      } else {
        // Bytes, not message objects: this client must stay on the wire (in-process calls go through unaryInProcess).
        client = runtime.client(definition, peer, { inProcess: false }) as unknown as ServiceClient;
      }
      clients.set(serviceName, client);
    }
    return client;
  };

  // In-process calls made as the platform's in-process client makes them, so that they fail with the ClientError a
  // gRPC call gives (google.rpc details decoded the same way). No default options: the metadata and the deadline
  // timer are the bridge's own, and the raw definitions carry no idempotency level, so nothing is retried.
  const inProcessCalls = new Map<BridgeMethod, UnaryCall>();
  const inProcessCallOf = (method: BridgeMethod): UnaryCall => {
    let call = inProcessCalls.get(method);
    if (call === undefined) {
      call = inProcessUnaryCall(runtime.grpc, { path: method.grpcPath, requestStream: false, responseStream: false, options: {} });
      inProcessCalls.set(method, call);
    }
    return call;
  };

  /** Call options with the caller's metadata and a signal that also fires at the deadline. */
  const callOptionsOf = (options: UpstreamCallOptions) => {
    const metadata = new Metadata();
    if (options.authorization !== undefined) metadata.set("authorization", options.authorization);
    for (const [key, value] of Object.entries(options.forward ?? {})) metadata.set(key, value);
    const state: { timedOut: boolean; cleanup?: () => void } = { timedOut: false };
    let signal = options.signal;
    let timer: ReturnType<typeof setTimeout> | undefined;
    if (options.timeoutMs !== undefined) {
      const controller = new AbortController();
      const abort = () => controller.abort();
      options.signal.addEventListener("abort", abort, { once: true });
      timer = setTimeout(() => {
        state.timedOut = true;
        controller.abort();
      }, options.timeoutMs);
      signal = controller.signal;
      state.cleanup = () => {
        clearTimeout(timer);
        options.signal.removeEventListener("abort", abort);
      };
    }
    // `deadline: undefined` switches off the runtime client's default deadline: the timer above is the deadline.
    return { call: { metadata, signal, deadline: undefined }, state };
  };

  const failureOf = (error: unknown, state: { timedOut: boolean }): BridgeError =>
    state.timedOut ? new BridgeError(Status.DEADLINE_EXCEEDED, "the deadline passed before the service answered") : bridgeErrorOf(error);

  const single = async (method: BridgeMethod, request: unknown, options: UpstreamCallOptions): Promise<Uint8Array> => {
    const target = clientOf(method)[method.descriptor.name]!;
    const { call, state } = callOptionsOf(options);
    try {
      return (await target(request, call)) as Uint8Array;
    } catch (error) {
      throw failureOf(error, state);
    } finally {
      state.cleanup?.();
    }
  };

  return {
    servesInProcess(method) {
      let served = inProcess.get(method);
      if (served === undefined) {
        served =
          options.inProcess &&
          method.kind === "unary" &&
          runtime.config.peers[peerOf(method.service.typeName)] === undefined &&
          runtime.grpc.servesUnary(method.grpcPath);
        inProcess.set(method, served);
      }
      return served;
    },
    async unaryInProcess(method, request, options) {
      const target = inProcessCallOf(method);
      const { call, state } = callOptionsOf(options);
      try {
        return (await target(request, call)) as Record<string, unknown>;
      } catch (error) {
        throw failureOf(error, state);
      } finally {
        state.cleanup?.();
      }
    },
    unary: single,
    clientStream: single,
    async *serverStream(method, request, options) {
      const target = clientOf(method)[method.descriptor.name]!;
      const { call, state } = callOptionsOf(options);
      try {
        yield* target(request, call) as AsyncIterable<Uint8Array>;
      } catch (error) {
        throw failureOf(error, state);
      } finally {
        state.cleanup?.();
      }
    },
  };
}
