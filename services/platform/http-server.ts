// A small node:http server for what is not gRPC: Prometheus `/metrics`, a `/healthz` for plain HTTP probes, and the
// HTTP/JSON bridge, which mounts its routes (or a fallback handler) here. Handler failures answer 500 with an error
// id; the real error goes to the log only.
import { randomUUID } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ServingStatus } from './health';
import type { Logger } from './logger';
import { METRICS_CONTENT_TYPE, metricsText } from './metrics';

export type HttpHandler = (request: IncomingMessage, response: ServerResponse, url: URL) => void | Promise<void>;

export interface HttpServerOptions {
  logger: Logger;
  /** Drives `/healthz` (200 when SERVING, 503 otherwise); without it `/healthz` answers 200 while listening. */
  healthStatus?: () => ServingStatus;
  /** Idle keep-alive connections are closed after this long. */
  keepAliveTimeoutMs?: number;
}

export interface CloseOptions {
  /** Time open responses (e.g. server-sent event streams) get before their connections are closed. */
  graceMs?: number;
}

export interface TradeplaneHttpServer {
  /** Serves `method` `path` (exact match, query string ignored). */
  route(method: string, path: string, handler: HttpHandler): void;
  /** Serves every request no route matches (the HTTP/JSON bridge); without it they get 404. */
  fallback(handler: HttpHandler): void;
  listen(host: string, port: number): Promise<number>;
  close(options?: CloseOptions): Promise<void>;
  readonly server: http.Server;
}

const DEFAULT_CLOSE_GRACE_MS = 5_000;

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  response.end(text);
}

export function createHttpServer(options: HttpServerOptions): TradeplaneHttpServer {
  const logger = options.logger.child({ component: 'http' });
  const routes = new Map<string, HttpHandler>();
  let fallback: HttpHandler | undefined;

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const handler = routes.get(`${request.method ?? 'GET'} ${url.pathname}`) ?? fallback;
    if (handler === undefined) {
      sendJson(response, 404, { error: 'not found' });
      return;
    }
    try {
      await handler(request, response, url);
    } catch (error) {
      const errorId = randomUUID();
      logger.error('unexpected error in HTTP handler', { method: request.method, path: url.pathname, errorId, err: error });
      if (!response.headersSent) sendJson(response, 500, { error: 'internal error', errorId });
      else response.destroy();
    }
  };

  const server = http.createServer((request, response) => void handle(request, response));
  server.keepAliveTimeout = options.keepAliveTimeoutMs ?? 5_000;

  const api: TradeplaneHttpServer = {
    route(method, path, handler) {
      const key = `${method.toUpperCase()} ${path}`;
      if (routes.has(key)) throw new Error(`route ${key} is already registered`);
      routes.set(key, handler);
    },
    fallback(handler) {
      fallback = handler;
    },
    listen(host, port) {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          const bound = (server.address() as AddressInfo).port;
          logger.info('HTTP server listening', { host, port: bound });
          resolve(bound);
        });
      });
    },
    async close(closeOptions = {}) {
      if (!server.listening) return;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), closeOptions.graceMs ?? DEFAULT_CLOSE_GRACE_MS);
      await closed;
      clearTimeout(timer);
    },
    server,
  };

  api.route('GET', '/metrics', async (_request, response) => {
    const text = await metricsText();
    response.writeHead(200, { 'content-type': METRICS_CONTENT_TYPE });
    response.end(text);
  });
  api.route('GET', '/healthz', (_request, response) => {
    const status = options.healthStatus?.() ?? 'SERVING';
    sendJson(response, status === 'SERVING' ? 200 : 503, { status });
  });
  return api;
}
