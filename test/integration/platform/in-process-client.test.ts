// runtime.client to a peer in the same process calls its unary methods in-process. Every test makes the same call
// both ways on a real runtime, in-process through `runtime.client` and over gRPC through the client runtime.ts
// builds when in-process calls are off (`createServiceClient` on the process's own port with the service token and
// the default deadline), and expects the caller to see the same thing: response, ClientError, deadline, abort, auth.
import { randomBytes } from "node:crypto";
import { expect } from "chai";
import { createChannel, Metadata, type Channel } from "nice-grpc";
import { ClientError, ServerError, Status, type CallContext } from "nice-grpc-common";
import { RichClientError } from "nice-grpc-error-details";
import { createServiceClient, type TradeplaneClient } from "../../../clients/node";
import { AccountingServiceDefinition } from "../../../generated/tradeplane/accounting/v1/accounting_service";
import type { Quote } from "../../../generated/tradeplane/marketdata/v1/market_data";
import { MarketDataServiceDefinition } from "../../../generated/tradeplane/marketdata/v1/market_data_service";
import { register as registerAccounting } from "../../../services/accounting/main";
import { invalid, unavailable } from "../../../services/platform/errors";
import type { TradeplaneCallContext } from "../../../services/platform/grpc-server";
import type { RegisterService, Runtime } from "../../../services/platform/runtime";
import { unimplementedService } from "../../../services/platform/unimplemented";
import { startSystem, type TestSystem } from "../../support/system";
import { waitFor } from "../../support/eventually";

type MarketData = TradeplaneClient<typeof MarketDataServiceDefinition>;
type Accounting = TradeplaneClient<typeof AccountingServiceDefinition>;

/** What the stand-in saw of one call, by the request's symbol. */
interface Seen {
  peer: string;
  subject: string;
  roles: string[];
  /** Set when the handler's signal aborted (deadline or caller cancellation). */
  aborted?: boolean;
}

const id = () => randomBytes(6).toString("hex").toUpperCase();
const id24 = () => randomBytes(12).toString("hex");

/**
 * A market data stand-in whose GetQuote does what the symbol says: `OK…` answers one stored quote object,
 * `INVALID…` a DomainError with field violations, `BUG…` an unexpected error, `MISSING…` a plain ServerError,
 * `SLOW…` waits for its signal, `FLAKY…` is UNAVAILABLE on the first attempt. Every call is recorded.
 */
class StandIn {
  readonly seen = new Map<string, Seen>();
  readonly attempts = new Map<string, number>();
  readonly stored: Quote = {
    symbol: "OK",
    securityId: "sec-ok",
    bid: "99.95",
    ask: "100.05",
    last: "100",
    bidSize: "300",
    askSize: "200",
    volume: "1250000",
    timestamp: new Date("2026-11-20T15:30:00Z"),
    seq: "42",
    lastSize: "",
  };

  register(): RegisterService {
    return async (runtime) => {
      runtime.grpc.add(MarketDataServiceDefinition, {
        ...unimplementedService(MarketDataServiceDefinition, "marketdata"),
        getQuote: async (request, context: CallContext & TradeplaneCallContext) => this.getQuote(request.symbol, context),
        streamQuotes: async function* (this: void, request, context: CallContext & TradeplaneCallContext) {
          standIn.record(request.symbols[0]!, context);
          yield { streamId: "s1", streamEpoch: "1", resumeToken: "", frame: { $case: "snapshot" as const, value: standIn.stored } };
        },
      });
      const standIn = this;
    };
  }

  record(symbol: string, context: CallContext & TradeplaneCallContext): Seen {
    const seen: Seen = { peer: context.peer, subject: context.principal.subject, roles: [...context.principal.roles] };
    this.seen.set(symbol, seen);
    return seen;
  }

  private async getQuote(symbol: string, context: CallContext & TradeplaneCallContext): Promise<{ quote: Quote }> {
    const seen = this.record(symbol, context);
    // A handler that writes to its metadata must not change what the caller passed.
    context.metadata.set("x-handler-wrote", "yes");
    this.attempts.set(symbol, (this.attempts.get(symbol) ?? 0) + 1);
    if (symbol.startsWith("OK")) return { quote: this.stored };
    if (symbol.startsWith("INVALID")) {
      throw invalid("SYMBOL_INVALID", "the symbol is not known here", [{ field: "symbol", description: "unknown ticker" }], {
        metadata: { symbol },
        retryAfterMs: 1500,
      });
    }
    if (symbol.startsWith("BUG")) throw new Error("a bug in the handler");
    if (symbol.startsWith("MISSING")) throw new ServerError(Status.NOT_FOUND, "no quote for that symbol");
    if (symbol.startsWith("FLAKY") && this.attempts.get(symbol) === 1) throw unavailable("DEPENDENCY_UNAVAILABLE", "the feed is reconnecting");
    if (symbol.startsWith("FLAKY")) return { quote: this.stored };
    if (symbol.startsWith("SLOW")) {
      await new Promise<void>((resolve) => context.signal.addEventListener("abort", () => resolve(), { once: true }));
      seen.aborted = true;
      throw new Error("aborted");
    }
    throw new ServerError(Status.INVALID_ARGUMENT, `unexpected test symbol ${symbol}`);
  }
}

/** The client runtime.ts builds for a peer when in-process calls are off. */
function grpcClientOf<D extends typeof MarketDataServiceDefinition | typeof AccountingServiceDefinition>(
  definition: D,
  runtime: Runtime,
  channel: Channel,
): TradeplaneClient<D> {
  return createServiceClient(definition, channel, { token: runtime.serviceToken, deadlineMs: runtime.config.clientDeadlineMs });
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected the call to fail");
}

/** What a caller can read of a failure: its class, code, message and google.rpc details. */
function visible(error: Error): Record<string, unknown> {
  return {
    name: error.name,
    message: error.message,
    isClientError: error instanceof ClientError,
    isRich: error instanceof RichClientError,
    ...(error instanceof ClientError ? { code: error.code, details: error.details, path: error.path } : {}),
    ...(error instanceof RichClientError ? { extra: error.extra } : {}),
  };
}

describe("runtime.client to a peer in the same process", () => {
  const standIn = new StandIn();
  let system: TestSystem;
  let channel: Channel;
  let market: { inProcess: MarketData; grpc: MarketData };
  let accounting: { inProcess: Accounting; grpc: Accounting };

  before(async () => {
    // A short default deadline, so the default-deadline test does not wait long.
    system = await startSystem([standIn.register(), registerAccounting], { env: { CLIENT_DEADLINE: "1s", ACCOUNTING_DAILY_DEPOSIT_LIMIT: "1000000" } });
    channel = createChannel(system.address);
    market = {
      inProcess: system.runtime.client(MarketDataServiceDefinition, "marketdata"),
      grpc: grpcClientOf(MarketDataServiceDefinition, system.runtime, channel),
    };
    accounting = {
      inProcess: system.runtime.client(AccountingServiceDefinition, "accounting"),
      grpc: grpcClientOf(AccountingServiceDefinition, system.runtime, channel),
    };
  });

  after(async () => {
    channel?.close();
    await system?.stop();
  });

  it("answers in-process with the same response as over gRPC, as a fresh object, leaving the request and metadata alone", async () => {
    const request = Object.freeze({ symbol: `OK${id()}` });
    const metadata = Metadata({ authorization: `Bearer ${system.runtime.serviceToken}` });
    const inProcess = await market.inProcess.getQuote(request, { metadata });
    expect(standIn.seen.get(request.symbol)?.peer).to.equal("in-process");
    const overGrpc = await market.grpc.getQuote(request);
    expect(standIn.seen.get(request.symbol)?.peer).to.match(/^127\.0\.0\.1:\d+$/);
    expect(inProcess).to.deep.equal(overGrpc);
    expect(inProcess.quote).to.deep.equal(standIn.stored);

    // The caller may keep and change the response: the handler's object is not it.
    expect(inProcess.quote).not.to.equal(standIn.stored);
    inProcess.quote!.bid = "1";
    expect((await market.inProcess.getQuote(request)).quote?.bid).to.equal("99.95");
    expect(request).to.deep.equal({ symbol: request.symbol });
    expect(metadata.has("x-handler-wrote")).to.equal(false);
  });

  it("fails with the same RichClientError (code, message, google.rpc details) as over gRPC", async () => {
    const request = { symbol: `INVALID${id()}` };
    const inProcess = await failure(market.inProcess.getQuote(request));
    const overGrpc = await failure(market.grpc.getQuote(request));
    expect(visible(inProcess)).to.deep.equal(visible(overGrpc));
    expect(inProcess).to.be.instanceOf(RichClientError);
    expect((inProcess as RichClientError).code).to.equal(Status.INVALID_ARGUMENT);
    expect((inProcess as RichClientError).extra.map((detail) => detail.$type)).to.deep.equal([
      "google.rpc.ErrorInfo",
      "google.rpc.BadRequest",
      "google.rpc.RetryInfo",
    ]);
  });

  it("fails with a plain ClientError where the service sends no details, as over gRPC", async () => {
    const request = { symbol: `MISSING${id()}` };
    const inProcess = await failure(market.inProcess.getQuote(request));
    expect(visible(inProcess)).to.deep.equal(visible(await failure(market.grpc.getQuote(request))));
    expect(inProcess).not.to.be.instanceOf(RichClientError);
    expect((inProcess as ClientError).code).to.equal(Status.NOT_FOUND);
  });

  it("answers a handler's bug with INTERNAL and an error id, as over gRPC", async () => {
    const request = { symbol: `BUG${id()}` };
    const withoutErrorId = (error: Error) => {
      const shown = visible(error);
      const errorId = ((error as RichClientError).extra[0] as { metadata?: Record<string, string> } | undefined)?.metadata?.errorId;
      expect(errorId).to.be.a("string");
      return JSON.parse(JSON.stringify(shown).split(errorId!).join("<id>"));
    };
    const inProcess = await failure(market.inProcess.getQuote(request));
    expect(withoutErrorId(inProcess)).to.deep.equal(withoutErrorId(await failure(market.grpc.getQuote(request))));
    expect((inProcess as ClientError).code).to.equal(Status.INTERNAL);
  });

  it("fails with DEADLINE_EXCEEDED at the call's deadline and at the default deadline, and aborts the handler's signal", async () => {
    for (const client of [market.inProcess, market.grpc]) {
      const symbol = `SLOW${id()}`;
      const startedMs = Date.now();
      const error = await failure(client.getQuote({ symbol }, { deadline: new Date(Date.now() + 100) }));
      expect(Date.now() - startedMs).to.be.below(900);
      expect(visible(error)).to.deep.include({ isClientError: true, isRich: false, code: Status.DEADLINE_EXCEEDED, details: "Deadline exceeded" });
      await waitFor(() => standIn.seen.get(symbol)?.aborted === true, 5_000, "the stand-in to see the abort");
    }
    const [inProcess, overGrpc] = await Promise.all([
      failure(market.inProcess.getQuote({ symbol: `SLOW${id()}` })),
      failure(market.grpc.getQuote({ symbol: `SLOW${id()}` })),
    ]);
    expect({ ...visible(inProcess), message: undefined }).to.deep.equal({ ...visible(overGrpc), message: undefined });
    expect((inProcess as ClientError).code).to.equal(Status.DEADLINE_EXCEEDED);
  });

  it("rejects with an AbortError when the caller aborts, as nice-grpc does over gRPC, and aborts the handler's signal", async () => {
    const errors: Error[] = [];
    for (const client of [market.inProcess, market.grpc]) {
      const symbol = `SLOW${id()}`;
      const controller = new AbortController();
      const call = failure(client.getQuote({ symbol }, { signal: controller.signal }));
      await waitFor(() => standIn.seen.has(symbol), 5_000, "the stand-in to see the call");
      controller.abort();
      errors.push(await call);
      await waitFor(() => standIn.seen.get(symbol)?.aborted === true, 5_000, "the stand-in to see the abort");
    }
    expect(visible(errors[0]!)).to.deep.equal(visible(errors[1]!));
    expect(errors[0]!.name).to.equal("AbortError");
  });

  it("retries an idempotent method on UNAVAILABLE, as over gRPC", async () => {
    for (const client of [market.inProcess, market.grpc]) {
      const symbol = `FLAKY${id()}`;
      expect((await client.getQuote({ symbol })).quote?.bid).to.equal("99.95");
      expect(standIn.attempts.get(symbol)).to.equal(2);
    }
  });

  it("calls as the service: the service token's principal, so a method for the service role works", async () => {
    const symbol = `OK${id()}`;
    await market.inProcess.getQuote({ symbol });
    expect(standIn.seen.get(symbol)).to.deep.include({ peer: "in-process", subject: "tradeplane-service", roles: ["service"] });

    // CreateReservation is for the service and admin roles; a replay of the same order id answers the same hold.
    const portfolioId = id24();
    await system.clients.accounting.deposit({ portfolioId, amount: "1000", idempotencyKey: `fund-${portfolioId}`, transactionDate: "" });
    const reservation = { portfolioId, orderId: `o-${portfolioId}`, securityId: "", amount: "250.50" };
    const inProcess = await accounting.inProcess.createReservation(reservation);
    expect(inProcess.reservation?.amount).to.equal("250.5");
    expect(await accounting.grpc.createReservation(reservation)).to.deep.equal(inProcess);

    // The caller's own metadata replaces the service token, as it does over gRPC: a trader may not hold cash.
    const trader = await system.token({ sub: "trader-1", roles: ["trader"], portfolios: [portfolioId] });
    const asTrader = { metadata: Metadata({ authorization: `Bearer ${trader}` }) };
    const other = { ...reservation, orderId: `o2-${portfolioId}` };
    const refused = await failure(accounting.inProcess.createReservation(other, asTrader));
    expect(visible(refused)).to.deep.equal(visible(await failure(accounting.grpc.createReservation(other, asTrader))));
    expect((refused as ClientError).code).to.equal(Status.PERMISSION_DENIED);

    // A hold the cash does not cover: the same FAILED_PRECONDITION with its details either way.
    const tooLarge = { ...reservation, orderId: `o3-${portfolioId}`, amount: "5000" };
    const refusedHold = await failure(accounting.inProcess.createReservation(tooLarge));
    expect(visible(refusedHold)).to.deep.equal(visible(await failure(accounting.grpc.createReservation(tooLarge))));
    expect((refusedHold as ClientError).code).to.equal(Status.FAILED_PRECONDITION);
  });

  it("keeps streaming methods on gRPC", async () => {
    const symbol = `STREAM${id()}`;
    for await (const frame of market.inProcess.streamQuotes({ symbols: [symbol], resumeToken: "" })) {
      expect(frame.frame?.$case).to.equal("snapshot");
    }
    expect(standIn.seen.get(symbol)?.peer).to.match(/^127\.0\.0\.1:\d+$/);
  });
});

describe("runtime.client with IN_PROCESS_CALLS=false", () => {
  const standIn = new StandIn();
  let system: TestSystem;

  before(async () => {
    system = await startSystem([standIn.register()], { env: { IN_PROCESS_CALLS: "false" } });
  });

  after(async () => {
    await system?.stop();
  });

  it("calls a peer in the same process over gRPC", async () => {
    const symbol = `OK${id()}`;
    const response = await system.runtime.client(MarketDataServiceDefinition, "marketdata").getQuote({ symbol });
    expect(response.quote).to.deep.equal(standIn.stored);
    expect(standIn.seen.get(symbol)?.peer).to.match(/^127\.0\.0\.1:\d+$/);
  });
});
