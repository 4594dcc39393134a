// Helpers shared by the market data integration tests: reading gRPC errors, feeding ticks through the
// real PublishQuotes RPC, and reading a quote stream frame by frame.
import { randomUUID } from "node:crypto";
import { expect } from "chai";
import { createClientFactory, Metadata } from "nice-grpc";
import { ClientError, type Status } from "nice-grpc-common";
import { errorDetailsClientMiddleware, RichClientError } from "nice-grpc-error-details";
import type { Tick } from "../../../generated/tradeplane/marketdata/v1/market_data";
import { MarketDataServiceDefinition, type StreamQuotesResponse } from "../../../generated/tradeplane/marketdata/v1/market_data_service";
import type { TradeplaneClients } from "../../../clients/node";
import type { TokenClaims } from "../../../services/platform/auth";
import type { TestSystem } from "../../support/system";

/** Environment for a market data test system: no simulator, its own bus and cache namespace. */
export function marketDataEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { MARKETDATA_SIMULATOR_RATE: "0", MARKETDATA_BUS_NAMESPACE: `test-${randomUUID()}:`, ...extra };
}

/**
 * A market data client that decodes google.rpc error details (ErrorInfo reason and metadata), on the
 * system's channel, acting as `claims` (an admin by default).
 */
export async function detailedClient(system: TestSystem, claims: TokenClaims = { sub: "md-admin", roles: ["admin", "feed"], portfolios: ["*"] }) {
  const token = await system.token(claims);
  return createClientFactory()
    .use(errorDetailsClientMiddleware)
    .create(MarketDataServiceDefinition, system.clients.channel, {
      "*": { metadata: new Metadata({ authorization: `Bearer ${token}` }) },
    });
}

export interface CallFailure {
  code: Status;
  reason: string | undefined;
  metadata: Record<string, string>;
  message: string;
}

/** The status, ErrorInfo reason and metadata of a call that must fail. */
export async function failureOf(call: Promise<unknown> | (() => Promise<unknown>)): Promise<CallFailure> {
  try {
    await (typeof call === "function" ? call() : call);
  } catch (error) {
    if (!(error instanceof ClientError)) throw error;
    const info = error instanceof RichClientError ? (error.extra.find((detail) => detail.$type === "google.rpc.ErrorInfo") as { reason: string; metadata: Record<string, string> } | undefined) : undefined;
    return { code: error.code, reason: info?.reason, metadata: info?.metadata ?? {}, message: error.details };
  }
  return expect.fail("expected the call to fail");
}

/** Ticks for one symbol at increasing times ending now, prices on a 0.01 grid around `base`. */
export function ticksFor(symbol: string, count: number, base: number, startMs = Date.now() - count - 1_000): Tick[] {
  return Array.from({ length: count }, (_, index) => {
    const cents = Math.round(base * 100) + (index % 7) - 3;
    const last = (cents / 100).toFixed(2);
    return {
      symbol,
      bid: ((cents - 1) / 100).toFixed(2),
      ask: ((cents + 1) / 100).toFixed(2),
      last,
      bidSize: "100",
      askSize: "100",
      lastSize: "10",
      timestamp: new Date(startMs + index),
    };
  });
}

/** Publish ticks through PublishQuotes in messages of at most 1,000. */
export async function publish(clients: TradeplaneClients, ticks: readonly Tick[]) {
  async function* messages() {
    for (let start = 0; start < ticks.length; start += 1_000) yield { ticks: ticks.slice(start, start + 1_000) };
  }
  return clients.marketData.publishQuotes(messages());
}

export type Frame = StreamQuotesResponse;

/** A quote stream read one frame at a time, cancelled by `close()`. */
export interface StreamReader {
  next(timeoutMs?: number): Promise<Frame>;
  /** Frames until `predicate` holds for one (included). */
  until(predicate: (frame: Frame) => boolean, timeoutMs?: number): Promise<Frame[]>;
  /** Resolves when the server ends the stream (status OK), or rejects with its error. */
  readonly ended: Promise<void>;
  close(): void;
}

export function openStream(clients: TradeplaneClients, request: { symbols?: string[]; resumeToken?: string }): StreamReader {
  const controller = new AbortController();
  const iterator = clients.marketData
    .streamQuotes({ symbols: request.symbols ?? [], resumeToken: request.resumeToken ?? "" }, { signal: controller.signal, deadline: undefined })
    [Symbol.asyncIterator]();
  const buffered: Frame[] = [];
  const waiters: ((frame: Frame | Error) => void)[] = [];
  let failure: Error | undefined;
  let resolveEnded!: () => void;
  let rejectEnded!: (error: unknown) => void;
  const ended = new Promise<void>((resolve, reject) => {
    resolveEnded = resolve;
    rejectEnded = reject;
  });
  ended.catch(() => undefined);
  let isPulling = false;
  // Frames are pulled only while a test waits for one, so a test can leave a stream unread (stalled).
  const pull = async () => {
    if (isPulling) return;
    isPulling = true;
    try {
      while (waiters.length > 0) {
        const result = await iterator.next();
        if (result.done) {
          failure = new Error("stream ended");
          resolveEnded();
          for (const waiter of waiters.splice(0)) waiter(failure);
          return;
        }
        const waiter = waiters.shift();
        if (waiter) waiter(result.value);
        else buffered.push(result.value);
      }
    } catch (error) {
      failure = error as Error;
      rejectEnded(error);
      for (const waiter of waiters.splice(0)) waiter(failure);
    } finally {
      isPulling = false;
    }
  };
  const next = (timeoutMs = 5_000): Promise<Frame> => {
    if (buffered.length > 0) return Promise.resolve(buffered.shift()!);
    if (failure) return Promise.reject(failure);
    return new Promise((resolve, reject) => {
      const waiter = (frame: Frame | Error) => {
        clearTimeout(timer);
        if (frame instanceof Error) reject(frame);
        else resolve(frame);
      };
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(waiter), 1);
        reject(new Error(`no frame within ${timeoutMs} ms`));
      }, timeoutMs);
      waiters.push(waiter);
      void pull();
    });
  };
  return {
    next,
    async until(predicate, timeoutMs = 5_000) {
      const frames: Frame[] = [];
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const frame = await next(Math.max(1, deadline - Date.now()));
        frames.push(frame);
        if (predicate(frame)) return frames;
      }
    },
    ended,
    close: () => controller.abort(),
  };
}

/** "SNAPSHOT AAPL@3", "UPDATE AAPL@4", "GAP AAPL from 3", "LAGGED 12", "HEARTBEAT", "END". */
export function describeFrame(frame: Frame): string {
  const body = frame.frame;
  switch (body?.$case) {
    case "snapshot":
      return `SNAPSHOT ${body.value.symbol}@${body.value.seq}`;
    case "update":
      return `UPDATE ${body.value.symbol}@${body.value.seq}`;
    case "gap":
      return `GAP ${body.value.symbol} from ${body.value.fromSeq}`;
    case "lagged":
      return `LAGGED ${body.value.conflatedCount}`;
    case "heartbeat":
      return "HEARTBEAT";
    case "end":
      return "END";
    default:
      return "EMPTY";
  }
}

export const isUpdateOf = (symbol: string, seq: number) => (frame: Frame) =>
  frame.frame?.$case === "update" && frame.frame.value.symbol === symbol && Number(frame.frame.value.seq) === seq;
