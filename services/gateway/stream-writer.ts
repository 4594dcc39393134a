// Server streams over HTTP/1.1, in the format the client's Accept asks for:
// - Server-Sent Events (`text/event-stream`, the default): one `data:` line per frame with `id:` = the frame's
//   cursor, so EventSource resends it as `Last-Event-ID` when it reconnects; a `retry:` hint; `: keepalive`
//   comments while idle so proxies keep the connection; `event: end` when the RPC finished normally and
//   `event: rpc-error` (AIP-193 body) when it failed after the stream started.
// - NDJSON (`application/x-ndjson`): one `{"result": frame}` line per frame and a final `{"error": ...}` line on
//   failure, grpc-gateway's shape, so existing NDJSON consumers work.
// Writes respect back-pressure: a frame is not taken from the gRPC stream until the socket drained the previous
// one, so a slow reader slows its own gRPC stream (where market data conflates) instead of growing memory here.
import type { ServerResponse } from "node:http";
import type { BridgeError } from "./bridge-error";

export type StreamFormat = "sse" | "ndjson";

/** The stream format an Accept header asks for; SSE unless NDJSON is named before it. */
export function streamFormatOf(accept: string | undefined): StreamFormat {
  if (accept === undefined) return "sse";
  const sse = accept.indexOf("text/event-stream");
  const ndjson = Math.max(accept.indexOf("application/x-ndjson"), accept.indexOf("application/jsonl"));
  return ndjson >= 0 && (sse < 0 || ndjson < sse) ? "ndjson" : "sse";
}

export interface StreamWriter {
  readonly format: StreamFormat;
  /** Writes a frame; resolves once the socket can take more (or the client left). */
  frame(json: unknown, id?: string): Promise<void>;
  /** Ends the response after a normal end of the RPC. */
  end(): void;
  /** Ends the response after the RPC failed mid-stream. */
  fail(error: BridgeError): void;
}

export interface StreamWriterOptions {
  format: StreamFormat;
  heartbeatMs: number;
  retryMs: number;
}

/** Sends the stream's headers now and returns its writer. */
export function openStreamWriter(response: ServerResponse, options: StreamWriterOptions): StreamWriter {
  const sse = options.format === "sse";
  response.writeHead(200, {
    "content-type": sse ? "text/event-stream; charset=utf-8" : "application/x-ndjson; charset=utf-8",
    "cache-control": "no-cache, no-store, no-transform",
    connection: "keep-alive",
    // nginx and similar proxies buffer responses unless told otherwise; a buffered stream is a dead stream.
    "x-accel-buffering": "no",
  });
  response.socket?.setNoDelay(true);
  if (sse) response.write(`retry: ${options.retryMs}\n\n`);
  else response.flushHeaders();

  let lastWrite = Date.now();
  const heartbeat = sse
    ? setInterval(() => {
        if (Date.now() - lastWrite >= options.heartbeatMs && !response.writableEnded) {
          response.write(": keepalive\n\n");
          lastWrite = Date.now();
        }
      }, Math.max(100, Math.floor(options.heartbeatMs / 2)))
    : undefined;
  heartbeat?.unref();
  const stop = () => clearInterval(heartbeat);
  response.once("close", stop);

  const write = (text: string): Promise<void> => {
    lastWrite = Date.now();
    if (response.writableEnded || response.destroyed) return Promise.resolve();
    if (response.write(text)) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        response.off("drain", done);
        response.off("close", done);
        resolve();
      };
      response.once("drain", done);
      response.once("close", done);
    });
  };

  return {
    format: options.format,
    frame(json, id) {
      const data = JSON.stringify(json);
      if (!sse) return write(`{"result":${data}}\n`);
      // A cursor with a line break would corrupt the event framing; cursors are tokens and numbers, so drop it.
      return write(id !== undefined && !/[\r\n]/.test(id) ? `id: ${id}\ndata: ${data}\n\n` : `data: ${data}\n\n`);
    },
    end() {
      stop();
      if (response.writableEnded) return;
      response.end(sse ? "event: end\ndata: {}\n\n" : undefined);
    },
    fail(error) {
      stop();
      if (response.writableEnded) return;
      const body = JSON.stringify(error.body());
      response.end(sse ? `event: rpc-error\ndata: ${body}\n\n` : `${body}\n`);
    },
  };
}
