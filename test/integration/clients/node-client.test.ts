import { expect } from "chai";
import { Status } from "nice-grpc-common";
import { BadRequest, ErrorInfo, RichClientError } from "nice-grpc-error-details";
import { createClients, type TradeplaneClients } from "../../../clients/node";
import { AllocationServiceDefinition } from "../../../generated/tradeplane/accounting/v1/allocation_service";
import { MarketDataServiceDefinition } from "../../../generated/tradeplane/marketdata/v1/market_data_service";
import { invalid, unavailable } from "../../../services/platform/errors";
import { createLogger } from "../../../services/platform/logger";
import { startServices, type RunningService } from "../../../services/platform/runtime";
import { unimplementedService } from "../../../services/platform/unimplemented";
import { testEnv } from "../../support/system";

describe("node client (clients/node)", () => {
  let running: RunningService;
  let clients: TradeplaneClients;
  const calls = { getQuote: 0, sendExecutions: 0 };
  let failNextQuotes = 0;

  before(async () => {
    running = await startServices(
      [
        async (runtime) => {
          runtime.grpc.add(MarketDataServiceDefinition, {
            ...unimplementedService(MarketDataServiceDefinition, "MarketDataService"),
            async getQuote(request) {
              calls.getQuote++;
              if (request.symbol === "") throw invalid("SYMBOL_REQUIRED", "symbol is required", [{ field: "symbol", description: "must not be empty" }]);
              if (request.symbol === "SLOW") await new Promise((resolve) => setTimeout(resolve, 2_000));
              if (failNextQuotes > 0) {
                failNextQuotes--;
                throw unavailable("QUOTES_UNAVAILABLE", "the quote store is unreachable");
              }
              return { quote: { symbol: request.symbol, bid: "1.00", ask: "1.01" } } as never;
            },
          });
          runtime.grpc.add(AllocationServiceDefinition, {
            ...unimplementedService(AllocationServiceDefinition, "AllocationService"),
            async sendExecutions() {
              calls.sendExecutions++;
              throw unavailable("STORE_UNAVAILABLE", "the execution store is unreachable");
            },
          });
        },
      ],
      testEnv(),
      { logger: createLogger({ name: "test", level: "silent" }) },
    );
    const token = await running.runtime.issueToken({ sub: "client-test", roles: ["trader"], portfolios: ["*"] }, 600);
    clients = createClients({ address: `127.0.0.1:${running.ports.grpc}`, token, deadlineMs: 500 });
  });

  after(async () => {
    clients?.close();
    await running?.stop();
  });

  const failureOf = (call: Promise<unknown>) => call.then(() => expect.fail("the call should fail"), (error: unknown) => error);

  it("surfaces google.rpc details: the ErrorInfo reason and BadRequest field violations", async () => {
    const error = await failureOf(clients.marketData.getQuote({ symbol: "" }));
    expect(error).to.be.instanceOf(RichClientError);
    const rich = error as RichClientError;
    expect(rich.code).to.equal(Status.INVALID_ARGUMENT);
    const info = rich.extra.find((d) => d.$type === ErrorInfo.$type) as ErrorInfo | undefined;
    expect(info?.reason).to.equal("SYMBOL_REQUIRED");
    const badRequest = rich.extra.find((d) => d.$type === BadRequest.$type) as BadRequest | undefined;
    expect(badRequest?.fieldViolations.map((v) => v.field)).to.deep.equal(["symbol"]);
  });

  it("retries a read (NO_SIDE_EFFECTS) that fails with UNAVAILABLE, and the caller sees the answer", async () => {
    calls.getQuote = 0;
    failNextQuotes = 1;
    const { quote } = await clients.marketData.getQuote({ symbol: "AAPL" });
    expect(quote?.bid).to.equal("1.00");
    expect(calls.getQuote).to.equal(2);
  });

  it("never retries a method the contract does not mark idempotent", async () => {
    calls.sendExecutions = 0;
    const error = await failureOf(clients.allocation.sendExecutions({}));
    expect((error as RichClientError).code).to.equal(Status.UNAVAILABLE);
    expect(calls.sendExecutions).to.equal(1);
  });

  it("puts the default deadline on every call", async () => {
    const started = Date.now();
    const error = await failureOf(clients.marketData.getQuote({ symbol: "SLOW" }, { retryMaxAttempts: 0 }));
    expect((error as RichClientError).code).to.equal(Status.DEADLINE_EXCEEDED);
    expect(Date.now() - started).to.be.lessThan(1_500);
  });
});
