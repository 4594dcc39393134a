// Server streams over HTTP/1.1, in the format the client's Accept asks for:
// - Server-Sent Events (`text/event-stream`, the default): one `data:` line per frame with `id:` = the frame's
//   cursor, so EventSource resends it as `Last-Event-ID` when it reconnects; a `retry:` hint; `: keepalive`
//   comments while idle so proxies keep the connection; `event: end` when the RPC finished normally and
//   `event: rpc-error` (AIP-193 body) when it failed after the stream started.
// - NDJSON (`application/x-ndjson`): one `{"result": frame}` line per frame and a final `{"error": ...}` line on
//   failure, grpc-gateway's shape, so existing NDJSON consumers work.
// Writes respect back-pressure: a frame is not taken from the gRPC stream until the socket drained the previous
// one, so a slow reader slows its own gRPC stream (where market data conflates) instead of growing memory here.
// A thousand subscribers cost no timer each: one keepalive sweep per heartbeat interval visits every open SSE
// stream, and a frame write only records the sweep's clock (no Date.now(), no promise while the socket keeps up).
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
  /**
   * Writes a frame already serialized as JSON text; returns undefined when the socket can take more at once,
   * else a promise that resolves when it drained (or the client left).
   */
  frameText(text: string, id?: string): Promise<void> | undefined;
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

  const keepalive: KeepaliveEntry = { response, lastWriteSweep: 0 };
  const sweep = sse ? keepaliveSweepOf(options.heartbeatMs) : undefined;
  sweep?.add(keepalive);
  const stop = () => sweep?.delete(keepalive);
  response.once("close", stop);

  const drained = (): Promise<void> =>
    new Promise((resolve) => {
      const done = () => {
        response.off("drain", done);
        response.off("close", done);
        resolve();
      };
      response.once("drain", done);
      response.once("close", done);
    });
  const write = (text: string): Promise<void> | undefined => {
    if (response.writableEnded || response.destroyed) return undefined;
    if (sweep !== undefined) keepalive.lastWriteSweep = sweep.clock;
    return response.write(text) ? undefined : drained();
  };
  const frameText = (data: string, id?: string): Promise<void> | undefined => {
    if (!sse) return write(`{"result":${data}}\n`);
    // A cursor with a line break would corrupt the event framing; cursors are tokens and numbers, so drop it.
    return write(id !== undefined && id.indexOf("\n") < 0 && id.indexOf("\r") < 0 ? `id: ${id}\ndata: ${data}\n\n` : `data: ${data}\n\n`);
  };

  return {
    format: options.format,
    frame(json, id) {
      return frameText(JSON.stringify(json), id) ?? Promise.resolve();
    },
    frameText,
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

interface KeepaliveEntry {
  response: ServerResponse;
  /** The sweep clock at the last write; a stream is idle when a whole sweep passed without one. */
  lastWriteSweep: number;
}

interface KeepaliveSweep {
  /** Counts sweeps; stamped on each write, so writes never read the time. */
  clock: number;
  add(entry: KeepaliveEntry): void;
  delete(entry: KeepaliveEntry): void;
}

const sweeps = new Map<number, KeepaliveSweep>();

/**
 * The shared keepalive timer of one heartbeat interval. It runs every half interval while streams are open and
 * sends `: keepalive` to each stream that wrote nothing since the sweep before the last, so an idle stream hears
 * from the bridge at least once per heartbeat interval and a busy one never does.
 */
function keepaliveSweepOf(heartbeatMs: number): KeepaliveSweep {
  let sweep = sweeps.get(heartbeatMs);
  if (sweep !== undefined) return sweep;
  const entries = new Set<KeepaliveEntry>();
  let timer: ReturnType<typeof setInterval> | undefined;
  const periodMs = Math.max(50, Math.floor(heartbeatMs / 2));
  const created: KeepaliveSweep = {
    clock: 0,
    add(entry) {
      entries.add(entry);
      entry.lastWriteSweep = created.clock;
      if (timer === undefined) {
        timer = setInterval(() => {
          created.clock++;
          for (const stream of entries) {
            if (created.clock - stream.lastWriteSweep < 2) continue;
            const response = stream.response;
            if (response.writableEnded || response.destroyed) continue;
            response.write(": keepalive\n\n");
            stream.lastWriteSweep = created.clock;
          }
        }, periodMs);
        timer.unref();
      }
    },
    delete(entry) {
      entries.delete(entry);
      if (entries.size === 0 && timer !== undefined) {
        clearInterval(timer);
        timer = undefined;
      }
    },
  };
  sweeps.set(heartbeatMs, created);
  return created;
}
