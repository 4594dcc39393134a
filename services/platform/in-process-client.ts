// Clients of peer services that sit in this process. In the one-process mode (npm start, tests, benchmarks) a
// gRPC call to a co-located peer costs a grpc-js client call, protobuf encoding and HTTP/2 on loopback on both sides
// of the same process, for an answer the process already holds as objects. A unary method whose service is added
// to this process's server is therefore called through `TradeplaneServer.invokeUnary`, which runs the server's unary
// pipeline (telemetry, metrics, error mapping, deadline, auth from the metadata, rate limit) on message objects.
// Streaming methods, and methods this process does not serve, stay on the gRPC channel client.
//
// A caller cannot tell the difference. The call runs through the very middleware of the channel client (the
// caller's trace context, telemetry.ts; clients/node: google.rpc details, retries of idempotent methods, deadline),
// with the same default options (the service token, the default deadline), and only the last step, the one that
// would send bytes, is replaced. That step behaves like nice-grpc's own: it gives the handler a copy of the metadata
// (nothing a handler does to it reaches the caller), rejects with an AbortError when the caller's signal aborts (the
// deadline middleware turns that into DEADLINE_EXCEEDED, as over gRPC), and turns the server's error into the ClientError a remote caller gets, with
// the google.rpc details written to the trailer exactly as the server writes them, so the details middleware decodes
// the same RichClientError. Retries are kept even though no network sits in between: the statuses they answer
// (UNAVAILABLE for a database that is down, ABORTED for a transaction conflict, RESOURCE_EXHAUSTED) come from the
// handlers, not the transport, and a retry helps in-process exactly as it does over gRPC.
//
// The request is not mutated: the server normalizes it with ts-proto's `fromPartial`, which builds a new object, and
// the response comes back through `fromPartial` too, so the caller may keep it. Two things a gRPC caller has and an
// in-process one does not: headers and trailers a handler writes (no caller reads them today), and the message size
// limits (GRPC_MAX_*_MESSAGE_BYTES), which guard the wire and have nothing to guard here.
import {
  ClientError,
  composeClientMiddleware,
  Metadata,
  ServerError,
  type CallOptions,
  type ClientMiddleware,
  type CompatServiceDefinition,
  type MethodDescriptor,
} from "nice-grpc";
import { tradeplaneClientMiddleware, type TradeplaneCallOptions, type TradeplaneClient } from "../../clients/node";
import { writeErrorDetails } from "./error-mapping";
import type { TradeplaneServer } from "./grpc-server";
import { traceContextClientMiddleware } from "./telemetry";

/** What an in-process client needs of the process's server. */
export type InProcessServer = Pick<TradeplaneServer, "servesUnary" | "invokeUnary">;

/** The call options a tradeplane client accepts (nice-grpc's plus deadline and retry settings). */
export type InProcessCallOptions = CallOptions & TradeplaneCallOptions;

/** A unary method as a caller sees it. */
export type UnaryCall = (request: unknown, options?: InProcessCallOptions) => Promise<unknown>;

type MethodDefinition = MethodDescriptor & { requestStream: boolean; responseStream: boolean };

/**
 * nice-grpc's conversion of ts-proto and grpc-js definitions to its own (method names, paths, idempotency levels),
 * the one its client factory uses; it has no public type, so it is loaded here and checked once.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { normalizeServiceDefinition } = require("nice-grpc/lib/service-definitions") as {
  normalizeServiceDefinition(definition: CompatServiceDefinition): Record<string, MethodDefinition>;
};
if (typeof normalizeServiceDefinition !== "function") throw new Error("this nice-grpc version lacks normalizeServiceDefinition");

export interface InProcessClientOptions<D extends CompatServiceDefinition> {
  server: InProcessServer;
  /** The same service over gRPC, built on first use: streaming methods, and unary methods this process does not serve. */
  overGrpc: () => TradeplaneClient<D>;
  /** The channel client's default call options (clients/node `defaultCallOptions`: deadline, retries, token). */
  defaults: InProcessCallOptions;
}

/**
 * A client of `definition` whose unary methods are called in-process while this process's server serves them
 * (checked on every call: services are added in any order), and over gRPC otherwise. Same type, same options, same
 * errors as the channel client.
 */
export function createInProcessClient<D extends CompatServiceDefinition>(definition: D, options: InProcessClientOptions<D>): TradeplaneClient<D> {
  const { server, overGrpc, defaults } = options;
  const client: Record<string, unknown> = {};
  for (const [name, method] of Object.entries(normalizeServiceDefinition(definition))) {
    const viaGrpc = (...args: unknown[]) => (overGrpc() as unknown as Record<string, (...a: unknown[]) => unknown>)[name]!(...args);
    if (method.requestStream || method.responseStream) {
      client[name] = viaGrpc;
      continue;
    }
    const inProcess = inProcessUnaryCall(server, method, defaults);
    client[name] = (request: unknown, callOptions?: InProcessCallOptions) =>
      server.servesUnary(method.path) ? inProcess(request, callOptions) : viaGrpc(request, callOptions);
  }
  return client as TradeplaneClient<D>;
}

/** The peer clients' middleware (runtime.ts): the caller's trace context, then the tradeplane client middleware. */
const middleware = composeClientMiddleware(traceContextClientMiddleware(), tradeplaneClientMiddleware()) as ClientMiddleware;

/**
 * One unary method of this process's server, called as a channel client calls it: the peer clients' middleware
 * with `defaults` under the caller's options (`{ ...defaults, ...options }`, as nice-grpc merges them), then
 * `invokeUnary` instead of grpc-js.
 */
export function inProcessUnaryCall(server: InProcessServer, method: MethodDescriptor, defaults: InProcessCallOptions = {}): UnaryCall {
  const descriptor: MethodDescriptor = { path: method.path, requestStream: false, responseStream: false, options: method.options };
  const next = invokeStep(server, method.path);
  return async (request, callOptions) => {
    const iterator = middleware({ method: descriptor, requestStream: false, request, responseStream: false, next }, { ...defaults, ...callOptions });
    const result = await iterator.next();
    // The tradeplane middleware only returns for unary calls; anything else is a bug in it, reported as nice-grpc does.
    if (result.done !== true) throw new Error("A middleware yielded a message, but expected to only return a message for unary method");
    if (result.value == null) throw new Error("A middleware returned void, but expected to return a message for unary method");
    return result.value;
  };
}

/** The innermost step of an in-process call: where a channel client would send the request over HTTP/2. */
function invokeStep(server: InProcessServer, path: string) {
  return async function* invoke(request: unknown, options: CallOptions): AsyncGenerator<never, unknown, undefined> {
    const { signal, onTrailer } = options;
    if (signal?.aborted === true) throw signal.reason ?? abortError();
    // A copy, as the server side of a gRPC call gets one: a handler setting a key must not change the caller's
    // metadata (the default one carries the service token for every call).
    const metadata = options.metadata === undefined ? Metadata() : Metadata(options.metadata);
    try {
      const response = await server.invokeUnary(path, request, { metadata, ...(signal === undefined ? {} : { signal }) });
      onTrailer?.(Metadata());
      return response;
    } catch (error) {
      // nice-grpc rejects with the signal's reason (an AbortError) once the caller's signal aborts, whatever the call
      // was doing.
      if (isAborted(signal)) throw signal!.reason ?? abortError();
      throw await asClientError(error, path, onTrailer);
    }
  };
}

/**
 * The ClientError a remote caller gets for what the server threw: same code and message, and the google.rpc details
 * handed to `onTrailer` as the `grpc-status-details-bin` trailer the server would have sent.
 */
async function asClientError(error: unknown, path: string, onTrailer: ((trailer: Metadata) => void) | undefined): Promise<unknown> {
  // invokeUnary rejects with ServerErrors only (the mapping makes anything else INTERNAL); keep anything else as is.
  if (!(error instanceof ServerError)) return error;
  const trailer = Metadata();
  await writeErrorDetails(error, trailer);
  onTrailer?.(trailer);
  return new ClientError(path, error.code, error.details);
}

/** Read after an await, where TypeScript would keep the `aborted` it narrowed before. */
function isAborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}

/** What nice-grpc (abort-controller-x) rejects with when an aborted signal has no reason. */
function abortError(): Error {
  const error = new Error("The operation has been aborted");
  error.name = "AbortError";
  return error;
}
