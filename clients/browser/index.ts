// The typed browser client of tradeplane's HTTP/JSON bridge. No dependencies, no framework: `fetch` for unary and
// client-streaming calls, and for server streams either
// - `fetch` streaming (the default): the client reads the event stream itself, so it can send the bearer token in
//   the Authorization header and Last-Event-ID on reconnect like any other header; or
// - `EventSource` (`transport: "eventsource"`), for methods with a GET binding: the browser reconnects and resends
//   Last-Event-ID by itself, but EventSource cannot send headers, so the token goes in `?access_token=` (the
//   bridge accepts it on GET and keeps it out of its access log; it may still reach proxy logs).
// Both resume a resumable stream (StreamQuotes, WatchOrderEvents) after a dropped connection from the last event
// id, so no frame is lost or repeated.
//
//   const tp = createTradeplaneClient({ baseUrl: "", token });
//   const { quote } = await tp.marketData.getQuote({ symbol: "AAPL" });
//   const sub = tp.marketData.streamQuotes({ symbols: ["AAPL"] }, { onMessage: (frame) => render(frame) });
//   sub.close();
import { METHODS, type MethodInfo, type StreamHandlers, type Subscription, type TradeplaneApi } from "./api.generated";
import { SseParser } from "./sse-parser";

export * from "./api.generated";
export { SseParser, type ServerSentEvent } from "./sse-parser";

/** Options of the browser client. */
export interface BrowserClientOptions {
  /** Origin (and prefix) of the bridge; "" = the page's own origin. */
  baseUrl?: string;
  /** Bearer token, or a function returning the current one (called per request, so a refreshed token is used). */
  token?: string | (() => string | undefined);
  /** Deadline of unary calls that do not set their own, in milliseconds. */
  timeoutMs?: number;
  /** How server streams are read; default "fetch". */
  transport?: "fetch" | "eventsource";
  /** First reconnect delay of a stream; doubles per failed attempt up to `maxReconnectDelayMs`. */
  reconnectDelayMs?: number;
  maxReconnectDelayMs?: number;
  /** A fetch to use instead of the global one (tests, instrumentation). */
  fetch?: typeof fetch;
}

/** An error answered by the bridge: HTTP status, gRPC status name, message and google.rpc details. */
export class TradeplaneError extends Error {
  /** ErrorInfo.reason of the details, e.g. "INSUFFICIENT_FUNDS". */
  readonly reason: string | undefined;
  constructor(
    readonly httpStatus: number,
    readonly status: string,
    message: string,
    readonly details: Array<Record<string, unknown>> = [],
    /** Retry-After in milliseconds, when the server said when to retry. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = "TradeplaneError";
    const info = details.find((d) => d["@type"] === "type.googleapis.com/google.rpc.ErrorInfo");
    this.reason = typeof info?.reason === "string" ? info.reason : undefined;
  }
}

/** Statuses after which a resumable stream reconnects instead of failing. */
const TRANSIENT = new Set(["UNAVAILABLE", "RESOURCE_EXHAUSTED", "DEADLINE_EXCEEDED", "ABORTED", "NETWORK"]);

/** Creates typed clients for every service of the bridge at `baseUrl`. */
export function createTradeplaneClient(options: BrowserClientOptions = {}): TradeplaneApi {
  const baseUrl = (options.baseUrl ?? "").replace(/\/$/, "");
  const doFetch = options.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init));
  const tokenOf = () => (typeof options.token === "function" ? options.token() : options.token);
  const headersOf = (extra: Record<string, string>) => {
    const token = tokenOf();
    return token === undefined ? extra : { ...extra, authorization: `Bearer ${token}` };
  };

  const call = async (info: MethodInfo, body: string, contentType: string, callOptions: { timeoutMs?: number; signal?: AbortSignal } = {}) => {
    const timeoutMs = callOptions.timeoutMs ?? options.timeoutMs;
    const response = await doFetch(baseUrl + info.path, {
      method: "POST",
      headers: headersOf({ "content-type": contentType, accept: "application/json", ...(timeoutMs === undefined ? {} : { "x-timeout-ms": String(timeoutMs) }) }),
      body,
      signal: callOptions.signal,
    });
    if (!response.ok) throw await errorOf(response);
    return response.json();
  };

  const api: Record<string, Record<string, unknown>> = {};
  for (const [service, methods] of Object.entries(METHODS)) {
    const client: Record<string, unknown> = {};
    for (const [name, info] of Object.entries(methods) as [string, MethodInfo][]) {
      if (info.kind === "unary") {
        client[name] = (request: object, callOptions?: { timeoutMs?: number; signal?: AbortSignal }) => call(info, JSON.stringify(request ?? {}), "application/json", callOptions);
      } else if (info.kind === "client_streaming") {
        client[name] = (requests: object[], callOptions?: { timeoutMs?: number; signal?: AbortSignal }) =>
          call(info, requests.map((r) => JSON.stringify(r)).join("\n") + "\n", "application/x-ndjson", callOptions);
      } else if (info.kind === "server_streaming") {
        client[name] = (request: object, handlers: StreamHandlers<unknown>, streamOptions: { lastEventId?: string } = {}) =>
          options.transport === "eventsource" && info.get !== undefined
            ? eventSourceStream(baseUrl, info, request ?? {}, handlers, streamOptions.lastEventId, tokenOf)
            : fetchStream({ baseUrl, info, request: request ?? {}, handlers, lastEventId: streamOptions.lastEventId, doFetch, headersOf, options });
      }
    }
    api[service] = client;
  }
  return api as unknown as TradeplaneApi;
}

/** Reads an error response's AIP-193 body (or makes one from the status line). */
async function errorOf(response: Response): Promise<TradeplaneError> {
  const retryAfter = response.headers.get("retry-after");
  const retryAfterMs = retryAfter !== null && /^\d+$/.test(retryAfter) ? Number(retryAfter) * 1000 : undefined;
  try {
    const body = (await response.json()) as { error?: { status?: string; message?: string; details?: Array<Record<string, unknown>> } };
    if (body.error !== undefined) {
      return new TradeplaneError(response.status, body.error.status ?? "UNKNOWN", body.error.message ?? response.statusText, body.error.details ?? [], retryAfterMs);
    }
  } catch {
    // Not JSON (a proxy's error page): fall through.
  }
  return new TradeplaneError(response.status, response.status >= 500 ? "UNAVAILABLE" : "UNKNOWN", `HTTP ${response.status} ${response.statusText}`, [], retryAfterMs);
}

interface FetchStreamArgs {
  baseUrl: string;
  info: MethodInfo;
  request: object;
  handlers: StreamHandlers<unknown>;
  lastEventId: string | undefined;
  doFetch: (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>;
  headersOf(extra: Record<string, string>): Record<string, string>;
  options: BrowserClientOptions;
}

/**
 * A server stream over fetch: POST the request, read SSE, and for a resumable method reconnect after a dropped
 * connection, a transient error or a server-initiated end (drain, deadline) with Last-Event-ID = the last id seen.
 */
function fetchStream(args: FetchStreamArgs): Subscription {
  const { info, handlers } = args;
  const resumable = info.cursor !== undefined;
  const firstDelay = args.options.reconnectDelayMs ?? 500;
  const maxDelay = args.options.maxReconnectDelayMs ?? 10_000;
  let lastEventId = args.lastEventId;
  let closed = false;
  let controller: AbortController | undefined;
  let delay = firstDelay;

  const finish = (error?: Error) => {
    if (closed) return;
    closed = true;
    handlers.onStatus?.("closed", error === undefined ? undefined : { error });
    if (error !== undefined) handlers.onError?.(error);
    else handlers.onEnd?.();
  };

  const retryOrFail = (error: TradeplaneError) => {
    if (closed) return;
    if (!resumable || !TRANSIENT.has(error.status)) return finish(error);
    const wait = Math.max(error.retryAfterMs ?? 0, delay) * (0.8 + Math.random() * 0.4);
    delay = Math.min(maxDelay, delay * 2);
    handlers.onStatus?.("reconnecting", { delayMs: Math.round(wait), error });
    setTimeout(() => void connect(), wait);
  };

  const connect = async (): Promise<void> => {
    if (closed) return;
    controller = new AbortController();
    handlers.onStatus?.("connecting");
    let response: Response;
    try {
      response = await args.doFetch(args.baseUrl + info.path, {
        method: "POST",
        headers: args.headersOf({
          "content-type": "application/json",
          accept: "text/event-stream",
          ...(lastEventId === undefined ? {} : { "last-event-id": lastEventId }),
        }),
        body: JSON.stringify(args.request),
        signal: controller.signal,
        cache: "no-store",
      });
    } catch (error) {
      return retryOrFail(new TradeplaneError(0, "NETWORK", `cannot reach the bridge: ${(error as Error).message}`));
    }
    if (!response.ok || response.body === null) return retryOrFail(await errorOf(response));
    handlers.onStatus?.("open");
    const parser = new SseParser();
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    try {
      for (;;) {
        const chunk = await reader.read();
        if (chunk.done) break;
        for (const event of parser.push(decoder.decode(chunk.value, { stream: true }))) {
          if (closed) return;
          if (event.event === "end") {
            // A resumable stream ends only when the server drains or its deadline nears: pick it up again.
            if (resumable) return retryOrFail(new TradeplaneError(200, "UNAVAILABLE", "the server ended the stream"));
            return finish();
          }
          if (event.event === "rpc-error") return retryOrFail(streamErrorOf(event));
          if (event.id !== undefined) lastEventId = event.id;
          delay = firstDelay;
          handlers.onMessage(JSON.parse(event.data));
        }
      }
    } catch (error) {
      if (closed) return;
      return retryOrFail(new TradeplaneError(0, "NETWORK", `the stream broke: ${(error as Error).message}`));
    }
    // The connection closed without an end event: the server or a proxy went away.
    retryOrFail(new TradeplaneError(0, "NETWORK", "the stream was cut"));
  };

  void connect();
  return {
    close() {
      if (closed) return;
      closed = true;
      controller?.abort();
      handlers.onStatus?.("closed");
    },
    get lastEventId() {
      return lastEventId;
    },
  };
}

function streamErrorOf(event: { data: string }): TradeplaneError {
  try {
    const body = JSON.parse(event.data) as { error: { code: number; status: string; message: string; details?: Array<Record<string, unknown>> } };
    return new TradeplaneError(body.error.code, body.error.status, body.error.message, body.error.details ?? []);
  } catch {
    return new TradeplaneError(0, "UNKNOWN", "the stream failed");
  }
}

/** The GET URL of a request: path variables from the template, every other field as query parameters. */
export function getUrlOf(template: string, request: object): string {
  const fields = { ...(request as Record<string, unknown>) };
  const path = template.replace(/\{([^}=]+)(=[^}]*)?\}/g, (_match, name: string) => {
    const camel = name.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());
    const value = fields[camel] ?? fields[name];
    delete fields[camel];
    delete fields[name];
    return encodeURIComponent(String(value ?? ""));
  });
  const query = new URLSearchParams();
  const add = (prefix: string, value: unknown) => {
    if (value === undefined || value === null) return;
    if (Array.isArray(value)) for (const item of value) add(prefix, item);
    else if (typeof value === "object") for (const [key, inner] of Object.entries(value)) add(`${prefix}.${key}`, inner);
    else query.append(prefix, String(value));
  };
  for (const [key, value] of Object.entries(fields)) add(key, value);
  const text = query.toString();
  return text === "" ? path : `${path}?${text}`;
}

/** A server stream over the browser's EventSource, which reconnects and resends Last-Event-ID by itself. */
function eventSourceStream(
  baseUrl: string,
  info: MethodInfo,
  request: object,
  handlers: StreamHandlers<unknown>,
  lastEventId: string | undefined,
  tokenOf: () => string | undefined,
): Subscription {
  const resumable = info.cursor !== undefined;
  const fields: Record<string, unknown> = { ...(request as Record<string, unknown>) };
  // A starting cursor goes in the query the first time; EventSource's own Last-Event-ID wins on reconnects.
  if (lastEventId !== undefined && info.cursor !== undefined) fields[info.cursor] = lastEventId;
  const token = tokenOf();
  let url = baseUrl + getUrlOf(info.get!, fields);
  if (token !== undefined) url += `${url.includes("?") ? "&" : "?"}access_token=${encodeURIComponent(token)}`;
  let last = lastEventId;
  let closed = false;
  handlers.onStatus?.("connecting");
  const source = new EventSource(url);
  const stop = (error?: Error) => {
    if (closed) return;
    closed = true;
    source.close();
    handlers.onStatus?.("closed", error === undefined ? undefined : { error });
    if (error !== undefined) handlers.onError?.(error);
    else handlers.onEnd?.();
  };
  source.onopen = () => handlers.onStatus?.("open");
  source.onmessage = (event: MessageEvent<string>) => {
    if (event.lastEventId !== "") last = event.lastEventId;
    handlers.onMessage(JSON.parse(event.data));
  };
  source.addEventListener("end", () => {
    // EventSource reconnects by itself after the server closes; only a non-resumable stream is really over.
    if (!resumable) stop();
  });
  source.addEventListener("rpc-error", (event) => {
    const error = streamErrorOf(event as MessageEvent<string>);
    if (!resumable || !TRANSIENT.has(error.status)) stop(error);
  });
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED) stop(new TradeplaneError(0, "NETWORK", "the event stream was refused"));
    else handlers.onStatus?.("reconnecting");
  };
  return {
    close: () => {
      if (closed) return;
      closed = true;
      source.close();
      handlers.onStatus?.("closed");
    },
    get lastEventId() {
      return last;
    },
  };
}
