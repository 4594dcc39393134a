// The HTTP/JSON bridge: one handler for every RPC of every service. It finds the route (route-table.ts), builds
// the request from path, query and body (request-binding.ts), validates it as proto3 JSON (message-json.ts), calls
// the service with the caller's own token (grpc-upstream.ts: in-process for unary methods of services in this
// process, with message objects from message-objects.ts; over gRPC with encoded bytes otherwise), and answers
// with proto3 JSON, an event stream, or an AIP-193 error (bridge-error.ts). Nothing here knows any particular service.
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { Status } from "nice-grpc-common";
import type { HttpHandler } from "../platform/http-server";
import type { Logger } from "../platform/logger";
import { bridgeErrorOf, BridgeError, gatewayError, type JsonObject } from "./bridge-error";
import { bridgeMetrics } from "./bridge-metrics";
import type { GatewayConfig } from "./config";
import { createCors } from "./cors";
import { decodeToJson, encodeJsonMessage, fieldByJsonKey, type JsonCodecOptions } from "./message-json";
import { messageObjectFromJson, messageObjectToJson } from "./message-objects";
import { bindRequest } from "./request-binding";
import { parseJsonBody, readBody, readNdjsonLines } from "./request-body";
import type { Route, RouteTable } from "./route-table";
import { createFrameEncoder, type FrameEncoder } from "./frame-json-encoder";
import { openStreamWriter, streamFormatOf } from "./stream-writer";
import type { UpstreamCallOptions, Upstream } from "./grpc-upstream";

export interface BridgeDependencies {
  routes: RouteTable;
  upstream: Upstream;
  config: GatewayConfig;
  logger: Logger;
}

/** Headers passed on to the services besides Authorization: request correlation and W3C trace context. */
const FORWARDED_HEADERS = ["x-request-id", "traceparent", "tracestate"] as const;

export function createBridgeHandler(deps: BridgeDependencies): HttpHandler {
  const { routes, upstream, config } = deps;
  const logger = deps.logger.child({ component: "http-bridge" });
  const cors = createCors(config.corsOrigins);
  const codec: JsonCodecOptions = { strict: config.strictJson, emitDefaults: config.emitDefaults };
  let openStreams = 0;
  // One frame encoder per streaming method (it remembers the JSON of recent payloads shared by many subscribers).
  // Routes that return one field of each frame (`response_body`) keep the generic path.
  const frameEncoders = new Map<Route, FrameEncoder>();
  const frameEncoderOf = (route: Route): FrameEncoder => {
    let encode = frameEncoders.get(route);
    if (encode === undefined) {
      const method = route.method;
      encode =
        route.binding?.responseBody === undefined || route.binding.responseBody === ""
          ? createFrameEncoder(method.output, codec)
          : (bytes) => {
              const json = selectResponseBody(route, decodeToJson(method.output, bytes, codec)) as Record<string, never>;
              return { text: JSON.stringify(json), json };
            };
      frameEncoders.set(route, encode);
    }
    return encode;
  };

  const callOptionsOf = (request: IncomingMessage, url: URL, requestId: string, signal: AbortSignal, timeoutMs: number | undefined): UpstreamCallOptions => {
    let authorization = request.headers.authorization;
    const queryToken = url.searchParams.get("access_token");
    if (authorization === undefined && queryToken !== null && config.allowQueryToken && request.method === "GET") {
      authorization = `Bearer ${queryToken}`;
    }
    const forward: Record<string, string> = { "x-request-id": requestId };
    for (const name of FORWARDED_HEADERS) {
      const value = request.headers[name];
      if (typeof value === "string" && name !== "x-request-id") forward[name] = value;
    }
    return { authorization, forward, timeoutMs, signal };
  };

  /** The request in proto3 JSON form, from path, query and body as the route binds them. */
  const requestJson = async (request: IncomingMessage, url: URL, route: Route, pathParams: Map<string, string>): Promise<unknown> => {
    const bodyAllowed = route.binding === undefined || route.binding.body !== "";
    const body = bodyAllowed ? parseJsonBody(await readBody(request, config.maxBodyBytes)) : undefined;
    const lastEventId = header(request, "last-event-id");
    return bindRequest({ route, pathParams, query: url.searchParams, body, lastEventId, strict: config.strictJson });
  };

  const serveUnary = async (response: ServerResponse, route: Route, json: unknown, call: UpstreamCallOptions) => {
    const method = route.method;
    if (upstream.servesInProcess(method)) {
      // Same validation and same JSON writer as below, message objects instead of bytes in between.
      const reply = await upstream.unaryInProcess(method, messageObjectFromJson(method.input, json, codec), call);
      sendJson(response, 200, selectResponseBody(route, messageObjectToJson(method.output, reply, codec)));
      return;
    }
    const reply = await upstream.unary(method, encodeJsonMessage(method.input, json, codec), call);
    sendJson(response, 200, selectResponseBody(route, decodeToJson(method.output, reply, codec)));
  };

  const serveClientStream = async (request: IncomingMessage, response: ServerResponse, url: URL, route: Route, pathParams: Map<string, string>, call: UpstreamCallOptions) => {
    // Each NDJSON line is one request message; path parameters apply to every line. A bad line fails the call
    // before anything more is sent: the messages already sent were accepted individually, as over gRPC.
    const lines = readNdjsonLines(request, config.maxStreamBodyBytes);
    const messages = (async function* () {
      for await (const { line, number } of lines) {
        const body = parseJsonBody(Buffer.from(line), `NDJSON line ${number}`);
        const json = bindRequest({ route, pathParams, query: url.searchParams, body, strict: config.strictJson });
        yield encodeJsonMessage(route.method.input, json, codec);
      }
    })();
    // A failure reading the body must win over the cancellation it causes upstream.
    let bodyError: unknown;
    const guarded = (async function* () {
      try {
        yield* messages;
      } catch (error) {
        bodyError = error;
        throw error;
      }
    })();
    try {
      const reply = await upstream.clientStream(route.method, guarded, call);
      sendJson(response, 200, selectResponseBody(route, decodeToJson(route.method.output, reply, codec)));
    } catch (error) {
      throw bodyError ?? error;
    }
  };

  const serveServerStream = async (request: IncomingMessage, response: ServerResponse, route: Route, message: Uint8Array, call: UpstreamCallOptions, rpc: string) => {
    if (openStreams >= config.maxOpenStreams) {
      throw gatewayError(Status.RESOURCE_EXHAUSTED, "TOO_MANY_STREAMS", `this bridge serves at most ${config.maxOpenStreams} streams at once`, { headers: { "retry-after": "1" } });
    }
    openStreams++;
    bridgeMetrics.streamOpened();
    try {
      const method = route.method;
      const iterator = upstream.serverStream(method, message, call)[Symbol.asyncIterator]();
      // Wait briefly for the first frame: a stream refused at once (NOT_FOUND, UNAUTHENTICATED, ...) then gets a
      // real HTTP status instead of a 200 followed by an error event.
      const first = iterator.next();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const early = await Promise.race([
        first.then((result) => ({ result }), (error: unknown) => ({ error })),
        new Promise<undefined>((resolve) => {
          timer = setTimeout(() => resolve(undefined), config.firstFrameWaitMs);
        }),
      ]);
      clearTimeout(timer);
      if (early !== undefined && "error" in early) throw early.error;

      const format = streamFormatOf(request.headers.accept);
      const writer = openStreamWriter(response, { format, heartbeatMs: config.sseHeartbeatMs, retryMs: config.sseRetryMs });
      const encode = frameEncoderOf(route);
      const cursor = method.cursor;
      const countFrame = bridgeMetrics.frameCounter(rpc, format);
      try {
        let result = early?.result ?? (await first);
        while (result.done !== true) {
          const frame = encode(result.value);
          const drained = writer.frameText(frame.text, cursor?.cursorOf(frame.json));
          countFrame();
          if (drained !== undefined) await drained;
          result = await iterator.next();
        }
        writer.end();
      } catch (error) {
        if (!call.signal.aborted) writer.fail(bridgeErrorOf(error));
      }
    } finally {
      openStreams--;
      bridgeMetrics.streamClosed();
    }
  };

  const dispatch = async (request: IncomingMessage, response: ServerResponse, url: URL, route: Route, pathParams: Map<string, string>, requestId: string, rpc: string) => {
    const method = route.method;
    const timeoutMs = timeoutOf(request, config, method.kind === "server_streaming");
    const abort = new AbortController();
    // The client went away (or the response was cut): stop the gRPC call too.
    response.once("close", () => {
      if (!response.writableFinished) abort.abort();
    });
    const call = callOptionsOf(request, url, requestId, abort.signal, timeoutMs);
    switch (method.kind) {
      case "unary":
        return serveUnary(response, route, await requestJson(request, url, route, pathParams), call);
      case "server_streaming": {
        const message = encodeJsonMessage(method.input, await requestJson(request, url, route, pathParams), codec);
        return serveServerStream(request, response, route, message, call, rpc);
      }
      case "client_streaming":
        return serveClientStream(request, response, url, route, pathParams, call);
      case "bidi_streaming":
        throw gatewayError(Status.UNIMPLEMENTED, "BIDI_NOT_SUPPORTED", `${method.grpcPath} is bidirectional; HTTP/1.1 cannot carry it, use gRPC`);
    }
  };

  return async (request, response, url) => {
    const startedAt = performance.now();
    const requestId = header(request, "x-request-id") ?? randomUUID();
    response.setHeader("x-request-id", requestId);
    let rpc = "unmatched";
    response.once("close", () => {
      const elapsed = (performance.now() - startedAt) / 1000;
      bridgeMetrics.observe(rpc, response.statusCode, elapsed);
      if (config.accessLog) {
        // The path only: the query string may hold an access token.
        logger.info("http request", {
          method: request.method,
          path: url.pathname,
          rpc,
          status: response.statusCode,
          durationMs: Math.round(elapsed * 10_000) / 10,
          requestId,
          completed: response.writableFinished,
        });
      }
    });
    if (cors.apply(request, response)) return;
    try {
      const lookup = routes.lookup(request.method ?? "GET", url.pathname);
      if (lookup.kind === "none") {
        throw gatewayError(Status.NOT_FOUND, "ROUTE_NOT_FOUND", `no route for ${request.method} ${url.pathname}; see /openapi.json`);
      }
      if (lookup.kind === "wrong_verb") {
        throw gatewayError(Status.UNIMPLEMENTED, "METHOD_NOT_ALLOWED", `${url.pathname} does not accept ${request.method}; it accepts ${lookup.allowed.join(", ")}`, {
          httpStatus: 405,
          headers: { allow: lookup.allowed.join(", ") },
        });
      }
      rpc = lookup.route.method.grpcPath;
      await dispatch(request, response, url, lookup.route, lookup.pathParams, requestId, rpc);
    } catch (error) {
      const failure = bridgeErrorOf(error);
      if (failure.grpcCode === Status.INTERNAL && !(error instanceof BridgeError)) {
        logger.error("unexpected error in the HTTP bridge", { rpc, requestId, err: error });
      }
      sendError(response, failure);
    }
  };
}

/** Sends a BridgeError as AIP-193 JSON, with Retry-After when the service said when to retry. */
export function sendError(response: ServerResponse, error: BridgeError): void {
  if (response.headersSent) {
    response.destroy();
    return;
  }
  const headers: Record<string, string> = { ...error.headers };
  const retryAfter = error.retryAfterSeconds;
  if (retryAfter !== undefined) headers["retry-after"] = String(retryAfter);
  for (const [name, value] of Object.entries(headers)) response.setHeader(name, value);
  sendJson(response, error.httpStatus, error.body());
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text) });
  response.end(text);
}

function header(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return typeof value === "string" && value !== "" ? value : undefined;
}

/** `response_body: "field"` returns one field of the response instead of all of it. */
function selectResponseBody(route: Route, json: unknown): unknown {
  const field = route.binding?.responseBody;
  if (field === undefined || field === "") return json;
  const desc = fieldByJsonKey(route.method.output, field);
  return desc === undefined ? json : (json as JsonObject)[desc.jsonName];
}

const GRPC_TIMEOUT_UNITS_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1_000, m: 1, u: 0.001, n: 0.000001 };

/**
 * The call's deadline in ms: `X-Timeout-Ms: 1500`, or gRPC's own `grpc-timeout: 5S` / `250m`, capped by config.
 * Without one, unary calls get the default and streams run until they end or the client leaves.
 */
export function timeoutOf(request: IncomingMessage, config: Pick<GatewayConfig, "defaultTimeoutMs" | "maxTimeoutMs">, streaming: boolean): number | undefined {
  const plain = header(request, "x-timeout-ms");
  const grpc = header(request, "grpc-timeout");
  let timeoutMs: number | undefined;
  if (plain !== undefined) {
    if (!/^\d+$/.test(plain.trim())) throw badTimeout("X-Timeout-Ms", plain);
    timeoutMs = Number(plain);
  } else if (grpc !== undefined) {
    const match = /^(\d{1,8})([HMSmun])$/.exec(grpc.trim());
    if (match === null) throw badTimeout("grpc-timeout", grpc);
    timeoutMs = Math.ceil(Number(match[1]) * GRPC_TIMEOUT_UNITS_MS[match[2]!]!);
  }
  if (timeoutMs === undefined) return streaming ? undefined : config.defaultTimeoutMs;
  return Math.max(1, Math.min(timeoutMs, config.maxTimeoutMs));
}

function badTimeout(name: string, value: string): BridgeError {
  return gatewayError(Status.INVALID_ARGUMENT, "INVALID_TIMEOUT", `${name} must be ${name === "X-Timeout-Ms" ? "milliseconds, e.g. 1500" : "e.g. 5S or 250m"}; got "${value}"`);
}
