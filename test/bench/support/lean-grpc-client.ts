// A minimal unary gRPC client over node:http2 for load generators. A benchmark's load generator shares the
// machine with the system it measures, so what it spends per call is taken from that system: a grpc-js client
// spends about 0.5 ms of CPU per unary call here, several times what the HTTP/2 stream itself costs. This one sends
// the request frame and reads the answer and its grpc-status, and nothing more: no retries, no middleware, no
// message compression. It rejects on any status but OK, with the status code and message, so a benchmark still
// fails loudly when the service refuses its calls.
import * as http2 from "node:http2";
import { grpcFrame } from "./h2load";

export class LeanCallError extends Error {
  constructor(
    readonly code: number,
    readonly details: string,
  ) {
    super(`gRPC status ${code}: ${details}`);
  }
}

export interface LeanGrpcClient {
  /** Calls `method` (e.g. /tradeplane.orders.v1.OrderService/SubmitOrder) with a serialized request message. */
  unary(method: string, message: Uint8Array): Promise<Buffer>;
  close(): void;
}

/** Connects to `address` (host:port, plaintext); `headers` go with every call (e.g. authorization). */
export function connectLeanGrpc(address: string, headers: Record<string, string>, deadlineMs: number): LeanGrpcClient {
  const session = http2.connect(`http://${address}`);
  // A session error also fails each open stream, so it surfaces on the calls themselves.
  session.on("error", () => undefined);
  const fixed = {
    ":method": "POST",
    "content-type": "application/grpc",
    te: "trailers",
    "grpc-timeout": `${deadlineMs}m`,
    ...headers,
  };
  return {
    unary(method, message) {
      return new Promise<Buffer>((resolve, reject) => {
        const stream = session.request({ ...fixed, ":path": method });
        const chunks: Buffer[] = [];
        let status: number | undefined;
        let details = "";
        const readStatus = (h: http2.IncomingHttpHeaders) => {
          const raw = h["grpc-status"];
          if (raw !== undefined) {
            status = Number(raw);
            details = decodeURIComponent(String(h["grpc-message"] ?? ""));
          }
        };
        // A trailers-only answer (an error before any message) carries the status in its headers.
        stream.on("response", readStatus);
        stream.on("trailers", readStatus);
        stream.on("data", (chunk: Buffer) => chunks.push(chunk));
        stream.on("error", reject);
        stream.on("close", () => {
          if (status === undefined) {
            reject(new LeanCallError(14, `stream closed without a grpc-status (http2 code ${stream.rstCode})`));
          } else if (status !== 0) {
            reject(new LeanCallError(status, details));
          } else {
            const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
            if (body.length < 5 || body[0] !== 0) {
              reject(new LeanCallError(13, "the answer is not one uncompressed gRPC message"));
              return;
            }
            resolve(body.subarray(5, 5 + body.readUInt32BE(1)));
          }
        });
        stream.end(grpcFrame(message));
      });
    },
    close() {
      session.close();
    },
  };
}
