// How the bridge calls the services: over gRPC, like any other client, through `runtime.client` (the peer's
// `<SVC>_ADDRESS`, or this process's own port in the one-process mode; the channel opens on first use). Messages
// travel as bytes the bridge already encoded from JSON, so the definitions here have identity serializers and no
// generated code sits on the hot path.
//
// Authorization stays the services' job: every call carries exactly the caller's own `Authorization` header (or
// none). The runtime's clients default to the service token, so the metadata is always passed explicitly here,
// which replaces that default instead of merging with it.
import { Metadata, type CompatServiceDefinition } from "nice-grpc";
import type { ClientMiddlewareCall } from "nice-grpc-common";
import { errorDetailsClientMiddleware } from "nice-grpc-error-details";
import type { PeerName, Runtime } from "../platform/runtime";
import type { TradeplaneClient } from "../../clients/node";
import { bridgeErrorOf } from "./bridge-error";
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
  unary(method: BridgeMethod, request: Uint8Array, options: UpstreamCallOptions): Promise<Uint8Array>;
  serverStream(method: BridgeMethod, request: Uint8Array, options: UpstreamCallOptions): AsyncIterable<Uint8Array>;
  clientStream(method: BridgeMethod, requests: AsyncIterable<Uint8Array>, options: UpstreamCallOptions): Promise<Uint8Array>;
}

type RawClient = Record<string, (request: unknown, options: object) => unknown>;

const identity = (bytes: Uint8Array) => bytes;

/** The peer serving a package: `tradeplane.<peer>.v1` (accounting serves AccountingService and AllocationService). */
export function peerOf(serviceTypeName: string): PeerName {
  const peer = serviceTypeName.split(".")[1];
  if (peer !== "marketdata" && peer !== "orders" && peer !== "accounting" && peer !== "optimization") {
    throw new Error(`no peer serves ${serviceTypeName}`);
  }
  return peer;
}

/** Builds the upstream over the runtime's lazily resolved peer channels. */
export function createUpstream(runtime: Pick<Runtime, "client">, methods: readonly BridgeMethod[]): Upstream {
  const clients = new Map<string, RawClient>();
  const clientOf = (method: BridgeMethod): RawClient => {
    const serviceName = method.service.typeName;
    let client = clients.get(serviceName);
    if (client === undefined) {
      const definition: Record<string, unknown> = {};
      for (const m of methods.filter((x) => x.service.typeName === serviceName)) {
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
      client = runtime.client(definition as CompatServiceDefinition, peerOf(serviceName)) as TradeplaneClient<CompatServiceDefinition> as unknown as RawClient;
      clients.set(serviceName, client);
    }
    return client;
  };

  const callOptions = (options: UpstreamCallOptions) => {
    const metadata = new Metadata();
    if (options.authorization !== undefined) metadata.set("authorization", options.authorization);
    for (const [key, value] of Object.entries(options.forward ?? {})) metadata.set(key, value);
    return { metadata, deadline: options.timeoutMs, signal: options.signal };
  };

  // The runtime's clients take no extra middleware, so the error-details middleware (which reads
  // `grpc-status-details-bin` from the trailer and throws RichClientError) wraps each call here.
  function withErrorDetails(method: BridgeMethod, request: unknown, options: UpstreamCallOptions, next: ClientMiddlewareCall<unknown, unknown>["next"]) {
    const requestStream = method.kind === "client_streaming" || method.kind === "bidi_streaming";
    const responseStream = method.kind === "server_streaming" || method.kind === "bidi_streaming";
    return errorDetailsClientMiddleware(
      { method: { path: method.grpcPath, requestStream, responseStream, options: {} }, requestStream, responseStream, request, next } as ClientMiddlewareCall<unknown, unknown>,
      callOptions(options),
    );
  }

  const single = async (method: BridgeMethod, request: unknown, options: UpstreamCallOptions): Promise<Uint8Array> => {
    const call = clientOf(method)[method.descriptor.name]!;
    const iterator = withErrorDetails(method, request, options, async function* (req, opts) {
      return (await call(req, opts)) as unknown;
    });
    try {
      const result = await iterator.next();
      return result.value as Uint8Array;
    } catch (error) {
      throw bridgeErrorOf(error);
    }
  };

  return {
    unary: single,
    clientStream: single,
    async *serverStream(method, request, options) {
      const call = clientOf(method)[method.descriptor.name]!;
      try {
        yield* withErrorDetails(method, request, options, async function* (req, opts) {
          yield* call(req, opts) as AsyncIterable<unknown>;
        }) as AsyncIterable<Uint8Array>;
      } catch (error) {
        throw bridgeErrorOf(error);
      }
    },
  };
}
