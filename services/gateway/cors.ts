// CORS for browsers on other origins (a dashboard served elsewhere, a notebook): only the configured origins get
// the headers, `*` allows any. Credentials are bearer tokens in a header, never cookies, so
// Access-Control-Allow-Credentials is not needed and `*` is safe to offer.
import type { IncomingMessage, ServerResponse } from "node:http";

export interface Cors {
  /** Sets the CORS headers a request's origin is entitled to; returns true when it was a preflight now answered. */
  apply(request: IncomingMessage, response: ServerResponse): boolean;
}

const ALLOWED_HEADERS = "authorization, content-type, accept, last-event-id, x-timeout-ms, grpc-timeout, x-request-id";
const EXPOSED_HEADERS = "retry-after, x-request-id, grpc-status, grpc-message";

export function createCors(origins: readonly string[], maxAgeSeconds = 600): Cors {
  const anyOrigin = origins.includes("*");
  const allowed = new Set(origins);
  return {
    apply(request, response) {
      const origin = request.headers.origin;
      if (origin === undefined || (!anyOrigin && !allowed.has(origin))) return false;
      response.setHeader("access-control-allow-origin", anyOrigin ? "*" : origin);
      if (!anyOrigin) response.setHeader("vary", "origin");
      response.setHeader("access-control-expose-headers", EXPOSED_HEADERS);
      if (request.method !== "OPTIONS" || request.headers["access-control-request-method"] === undefined) return false;
      response.setHeader("access-control-allow-methods", "GET, POST, PUT, PATCH, DELETE, OPTIONS");
      response.setHeader("access-control-allow-headers", ALLOWED_HEADERS);
      response.setHeader("access-control-max-age", String(maxAgeSeconds));
      response.writeHead(204);
      response.end();
      return true;
    },
  };
}
