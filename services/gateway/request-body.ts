// Reading request bodies with a size limit: the bridge refuses to buffer more than the configured bytes (413), and
// checks Content-Length first so an oversized upload is refused before it is read.
import type { IncomingMessage } from "node:http";
import { Status } from "nice-grpc-common";
import { gatewayError } from "./bridge-error";

/** The whole body, or a 413 BridgeError once it passes `limitBytes`. */
export async function readBody(request: IncomingMessage, limitBytes: number): Promise<Buffer> {
  const declared = Number(request.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limitBytes) throw tooLarge(limitBytes);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limitBytes) throw tooLarge(limitBytes);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** Lines of an NDJSON body as they arrive (blank lines skipped), with the same size limit over the whole body. */
export async function* readNdjsonLines(request: IncomingMessage, limitBytes: number): AsyncGenerator<{ line: string; number: number }> {
  const declared = Number(request.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limitBytes) throw tooLarge(limitBytes);
  let size = 0;
  let pending = "";
  let number = 0;
  const decoder = new TextDecoder("utf-8");
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limitBytes) throw tooLarge(limitBytes);
    pending += decoder.decode(chunk, { stream: true });
    let newline = pending.indexOf("\n");
    while (newline >= 0) {
      const line = pending.slice(0, newline).trim();
      pending = pending.slice(newline + 1);
      number++;
      if (line !== "") yield { line, number };
      newline = pending.indexOf("\n");
    }
  }
  const last = (pending + decoder.decode()).trim();
  if (last !== "") yield { line: last, number: number + 1 };
}

/** Parses a JSON body; empty means "no body" (undefined). Malformed JSON is a 400 with the parser's reason. */
export function parseJsonBody(bytes: Buffer, what = "request body"): unknown {
  if (bytes.length === 0) return undefined;
  try {
    return JSON.parse(bytes.toString("utf8"));
  } catch (error) {
    throw gatewayError(Status.INVALID_ARGUMENT, "MALFORMED_JSON", `the ${what} is not valid JSON: ${(error as Error).message}`);
  }
}

function tooLarge(limitBytes: number) {
  return gatewayError(Status.INVALID_ARGUMENT, "BODY_TOO_LARGE", `the request body is larger than ${limitBytes} bytes`, { httpStatus: 413 });
}
