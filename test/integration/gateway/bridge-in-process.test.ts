import { expect } from "chai";
import Decimal from "decimal.js";
import {
  AccountingServiceDefinition,
  type AccountingServiceImplementation,
} from "../../../generated/tradeplane/accounting/v1/accounting_service";
import { TransactionStatus, TransactionType } from "../../../generated/tradeplane/accounting/v1/accounting";
import { register as registerGateway } from "../../../services/gateway/main";
import { authorizePortfolio } from "../../../services/platform/auth";
import { invalid, notFound, resourceExhausted } from "../../../services/platform/errors";
import type { TradeplaneCallContext } from "../../../services/platform/grpc-server";
import type { RegisterService } from "../../../services/platform/runtime";
import { startSystem, type TestSystem } from "../../support/system";
import { withUnimplemented } from "../platform/grpc-fixture";

const PORTFOLIO = "PINPROC00000000000000001";
const OTHER_PORTFOLIO = "PINPROC00000000000000002";
const SUMMARY_PATH = `/api/v1/portfolios/${PORTFOLIO}/summary`;

/** An accounting service that authorizes like the real one and fails on request, to compare both bridge paths. */
const fakeAccounting: RegisterService = async (runtime) => {
  const accounting: Partial<AccountingServiceImplementation<TradeplaneCallContext>> = {
    async getPortfolioSummary({ portfolioId }, context) {
      authorizePortfolio(context.principal, portfolioId);
      return {
        summary: {
          portfolioId,
          cashBalance: "1000.50",
          securityCount: 1,
          securities: [{ securityId: "SEC000000000000000000001", symbol: "AAPL", netQuantity: "10", price: "175.50", priceTime: new Date(Date.UTC(2024, 4, 1, 13, 30, 0, 123)) }],
          // Where the call came from, so the test can tell the two paths apart.
          missingPrices: [context.peer],
          lastUpdated: new Date(Date.UTC(2024, 4, 1, 13, 30, 1)),
        },
      };
    },
    async deposit({ portfolioId, amount, idempotencyKey }, context) {
      authorizePortfolio(context.principal, portfolioId);
      if (idempotencyKey === "slow") await new Promise((resolve) => setTimeout(resolve, 1_000));
      if (idempotencyKey === "busy") throw resourceExhausted("DAILY_DEPOSIT_LIMIT", "the daily deposit limit is reached", { retryAfterMs: 1_500 });
      if (idempotencyKey === "unknown") throw notFound("PORTFOLIO_NOT_FOUND", `no portfolio ${portfolioId}`, { metadata: { portfolioId } });
      if (new Decimal(amount).gt(1_000_000)) {
        throw invalid("AMOUNT_TOO_LARGE", "amount must be at most 1,000,000", [{ field: "amount", description: "at most 1,000,000" }]);
      }
      return {
        transaction: {
          id: "1001",
          portfolioId,
          sourceId: `DEP:${idempotencyKey}`,
          status: TransactionStatus.TRANSACTION_STATUS_PROC,
          transactionType: TransactionType.TRANSACTION_TYPE_DEP,
          quantity: amount,
          price: "1",
          createTime: new Date(Date.UTC(2024, 4, 1)),
        },
        dailyTotal: amount,
      };
    },
  };
  runtime.grpc.add(AccountingServiceDefinition, withUnimplemented(AccountingServiceDefinition, accounting) as never);
};

/** Status, headers the client acts on, and body of a response. */
async function outcomeOf(response: Response): Promise<{ status: number; retryAfter: string | null; body: unknown }> {
  return { status: response.status, retryAfter: response.headers.get("retry-after"), body: await response.json() };
}

describe("HTTP bridge calling services in its own process", () => {
  let local: TestSystem;
  let remote: TestSystem;
  let trader: Record<string, string>;

  before(async () => {
    // The bridge beside the service (in-process calls), and a second bridge in front of the same service over gRPC.
    local = await startSystem([fakeAccounting, registerGateway]);
    remote = await startSystem([registerGateway], { env: { ACCOUNTING_ADDRESS: local.address } });
    trader = { authorization: `Bearer ${await local.token({ sub: "trader-1", roles: ["trader"], portfolios: [PORTFOLIO] })}` };
  });
  after(async () => {
    await remote?.stop();
    await local?.stop();
  });

  const deposit = (system: TestSystem, body: object, headers: Record<string, string> = trader) =>
    fetch(`${system.httpUrl}/api/v1/portfolios/${PORTFOLIO}/deposit`, { method: "POST", headers, body: JSON.stringify(body) });

  it("calls a co-located service in-process and answers the same JSON as over gRPC", async () => {
    const inProcess = await outcomeOf(await fetch(`${local.httpUrl}${SUMMARY_PATH}`, { headers: trader }));
    const overGrpc = await outcomeOf(await fetch(`${remote.httpUrl}${SUMMARY_PATH}`, { headers: trader }));
    expect(inProcess.status).to.equal(200);
    const summaries = [inProcess, overGrpc].map((o) => (o.body as { summary: Record<string, unknown> }).summary);
    expect(summaries[0]!.missingPrices).to.deep.equal(["in-process"]);
    expect(summaries[1]!.missingPrices).to.not.deep.equal(["in-process"]);
    for (const summary of summaries) delete summary.missingPrices;
    expect(summaries[0]).to.deep.equal(summaries[1]);
    expect(summaries[0]).to.include({ cashBalance: "1000.50", cashReserved: "", securityCount: 1, lastUpdated: "2024-05-01T13:30:01Z" });
    expect((summaries[0]!.securities as unknown[])[0]).to.include({ symbol: "AAPL", price: "175.50", priceTime: "2024-05-01T13:30:00.123Z" });

    const depositBody = { amount: "250.00", idempotencyKey: "k1" };
    const deposited = await outcomeOf(await deposit(local, depositBody));
    expect(deposited.status, JSON.stringify(deposited.body)).to.equal(200);
    expect(deposited).to.deep.equal(await outcomeOf(await deposit(remote, depositBody)));
    expect((deposited.body as { transaction: Record<string, unknown> }).transaction).to.include({
      quantity: "250.00",
      status: "TRANSACTION_STATUS_PROC",
      createTime: "2024-05-01T00:00:00Z",
    });
  });

  it("enforces auth in-process: 401 without a token, 403 for a portfolio not in the token", async () => {
    const anonymous = await outcomeOf(await fetch(`${local.httpUrl}${SUMMARY_PATH}`));
    expect(anonymous.status).to.equal(401);
    expect(anonymous.body).to.have.nested.property("error.status", "UNAUTHENTICATED");
    expect(anonymous).to.deep.equal(await outcomeOf(await fetch(`${remote.httpUrl}${SUMMARY_PATH}`)));

    const otherPath = `/api/v1/portfolios/${OTHER_PORTFOLIO}/summary`;
    const forbidden = await outcomeOf(await fetch(`${local.httpUrl}${otherPath}`, { headers: trader }));
    expect(forbidden.status).to.equal(403);
    expect(forbidden.body).to.have.nested.property("error.status", "PERMISSION_DENIED");
    expect(forbidden).to.deep.equal(await outcomeOf(await fetch(`${remote.httpUrl}${otherPath}`, { headers: trader })));

    const badToken = { authorization: "Bearer not-a-token" };
    const rejected = await outcomeOf(await deposit(local, { amount: "1", idempotencyKey: "k2" }, badToken));
    expect(rejected.status).to.equal(401);
    expect(rejected).to.deep.equal(await outcomeOf(await deposit(remote, { amount: "1", idempotencyKey: "k2" }, badToken)));
  });

  it("maps domain errors to the same status, headers and JSON body as the gRPC path", async () => {
    const cases = [
      { body: { amount: "2000000", idempotencyKey: "k3" }, status: 400, reason: "AMOUNT_TOO_LARGE" },
      { body: { amount: "1", idempotencyKey: "busy" }, status: 429, reason: "DAILY_DEPOSIT_LIMIT" },
      { body: { amount: "1", idempotencyKey: "unknown" }, status: 404, reason: "PORTFOLIO_NOT_FOUND" },
    ];
    for (const { body, status, reason } of cases) {
      const inProcess = await outcomeOf(await deposit(local, body));
      expect(inProcess.status, reason).to.equal(status);
      expect((inProcess.body as { error: { details: object[] } }).error.details[0]).to.include({ reason, domain: "tradeplane.accounting" });
      expect(inProcess, reason).to.deep.equal(await outcomeOf(await deposit(remote, body)));
    }
    const busy = await outcomeOf(await deposit(local, cases[1]!.body));
    expect(busy.retryAfter).to.equal("2");
    const violations = (await outcomeOf(await deposit(local, cases[0]!.body))).body as { error: { details: Array<Record<string, unknown>> } };
    expect(violations.error.details[1]).to.deep.equal({
      "@type": "type.googleapis.com/google.rpc.BadRequest",
      fieldViolations: [{ field: "amount", description: "at most 1,000,000" }],
    });
  });

  it("turns X-Timeout-Ms into the deadline of an in-process call", async () => {
    const headers = { ...trader, "x-timeout-ms": "100" };
    const late = await outcomeOf(await deposit(local, { amount: "1", idempotencyKey: "slow" }, headers));
    expect(late.status).to.equal(504);
    expect(late).to.deep.equal(await outcomeOf(await deposit(remote, { amount: "1", idempotencyKey: "slow" }, headers)));
  });
});
