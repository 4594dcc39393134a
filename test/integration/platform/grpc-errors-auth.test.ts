import { expect } from "chai";
import { ClientError, Status } from "nice-grpc-common";
import { BadRequest, ErrorInfo, PreconditionFailure, RetryInfo, RichClientError } from "nice-grpc-error-details";
import { authorizePortfolio } from "../../../services/platform/auth";
import { failedPrecondition, invalid, notFound, unavailable } from "../../../services/platform/errors";
import { bearer, startHarness, type Harness } from "./grpc-fixture";

async function callError(promise: Promise<unknown>): Promise<RichClientError | ClientError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ClientError) return error;
    throw error;
  }
  return expect.fail("expected the call to fail");
}

function detail<T>(error: RichClientError | ClientError, type: string): T {
  expect(error).to.be.instanceOf(RichClientError);
  const found = (error as RichClientError).extra.find((d) => d.$type === type);
  expect(found, `${type} detail`).to.not.equal(undefined);
  return found as T;
}

describe("gRPC platform: authentication, authorization and error mapping", () => {
  let h: Harness;

  before(async () => {
    h = await startHarness({
      server: { rateLimit: { ratePerSecond: 1, burst: 2 } },
      accounting: {
        async getBalance(request, context) {
          authorizePortfolio(context.principal, request.portfolioId);
          switch (request.securityId) {
            case "INVALID":
              throw invalid("QUANTITY_NOT_POSITIVE", "quantity must be positive", [
                { field: "quantity", description: "must be greater than 0" },
              ]);
            case "MISSING":
              throw notFound("BALANCE_NOT_FOUND", "no balance for that security", { metadata: { securityId: "MISSING" } });
            case "CLOSED":
              throw failedPrecondition("PORTFOLIO_CLOSED", "the portfolio is closed");
            case "BUSY":
              throw unavailable("LEDGER_BUSY", "the ledger is busy", { retryAfterMs: 1500 });
            case "CRASH":
              throw new TypeError("Cannot read properties of undefined (reading 'quantity') at /srv/secret/path.ts:12");
            case "DB":
              throw Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" });
            default:
              return { balance: { id: "1", portfolioId: request.portfolioId, securityId: "", quantityLong: "100.25", quantityShort: "0", version: 1, quantityReserved: "0", quantityAvailable: "100.25" } };
          }
        },
      },
      marketData: {
        async *streamQuotes() {
          yield { streamId: "s1", streamEpoch: "e", resumeToken: "t1", frame: undefined };
          throw invalid("TOO_MANY_SYMBOLS", "at most 2 symbols per stream", [{ field: "symbols", description: "too many" }]);
        },
      },
    });
  });

  after(async () => {
    await h.close();
  });

  it("rejects a call without a token as UNAUTHENTICATED with reason TOKEN_MISSING", async () => {
    const error = await callError(h.accounting.getBalance({ portfolioId: "P1" }));
    expect(error.code).to.equal(Status.UNAUTHENTICATED);
    expect(detail<ErrorInfo>(error, "google.rpc.ErrorInfo")).to.include({ reason: "TOKEN_MISSING", domain: "tradeplane.accounting" });
  });

  it("rejects an invalid token and an expired token as UNAUTHENTICATED", async () => {
    const invalidError = await callError(h.accounting.getBalance({ portfolioId: "P1" }, bearer("abc.def.ghi")));
    expect(invalidError.code).to.equal(Status.UNAUTHENTICATED);
    expect(detail<ErrorInfo>(invalidError, "google.rpc.ErrorInfo").reason).to.equal("TOKEN_INVALID");
    const expired = await h.token({}, -5);
    const expiredError = await callError(h.accounting.getBalance({ portfolioId: "P1" }, bearer(expired)));
    expect(expiredError.code).to.equal(Status.UNAUTHENTICATED);
    expect(detail<ErrorInfo>(expiredError, "google.rpc.ErrorInfo").reason).to.equal("TOKEN_EXPIRED");
  });

  it("answers a valid token for its portfolio, and PERMISSION_DENIED for a portfolio not in the token", async () => {
    const token = await h.token({ sub: "perm-user" });
    const ok = await h.accounting.getBalance({ portfolioId: "P1" }, bearer(token));
    expect(ok.balance?.quantityLong).to.equal("100.25");
    const error = await callError(h.accounting.getBalance({ portfolioId: "P2" }, bearer(token)));
    expect(error.code).to.equal(Status.PERMISSION_DENIED);
    expect(detail<ErrorInfo>(error, "google.rpc.ErrorInfo")).to.deep.include({ reason: "PORTFOLIO_NOT_PERMITTED", metadata: { portfolioId: "P2" } });
  });

  it("answers RESOURCE_EXHAUSTED with a retry delay once a caller exceeds its rate", async () => {
    const token = await h.token({ sub: "rate-user" });
    await h.accounting.getBalance({ portfolioId: "P1" }, bearer(token));
    await h.accounting.getBalance({ portfolioId: "P1" }, bearer(token));
    const error = await callError(h.accounting.getBalance({ portfolioId: "P1" }, bearer(token)));
    expect(error.code).to.equal(Status.RESOURCE_EXHAUSTED);
    expect(detail<ErrorInfo>(error, "google.rpc.ErrorInfo").reason).to.equal("RATE_LIMITED");
    const retry = detail<RetryInfo>(error, "google.rpc.RetryInfo");
    const delayMs = Number(retry.retryDelay!.seconds) * 1000 + retry.retryDelay!.nanos / 1e6;
    expect(delayMs).to.be.greaterThan(0).and.at.most(1000);
    // Another caller has a bucket of its own.
    const other = await h.token({ sub: "another-user" });
    await h.accounting.getBalance({ portfolioId: "P1" }, bearer(other));
  });

  describe("domain errors", () => {
    let n = 0;
    // Each case uses a fresh principal so the rate limit of 1/s with burst 2 never interferes.
    const call = async (securityId: string) =>
      callError(h.accounting.getBalance({ portfolioId: "P1", securityId }, bearer(await h.token({ sub: `mapping-${(n += 1)}` }))));

    it("maps 'invalid' to INVALID_ARGUMENT with ErrorInfo and BadRequest field violations", async () => {
      const error = await call("INVALID");
      expect(error.code).to.equal(Status.INVALID_ARGUMENT);
      expect(error.details).to.equal("quantity must be positive");
      expect(detail<ErrorInfo>(error, "google.rpc.ErrorInfo")).to.include({ reason: "QUANTITY_NOT_POSITIVE", domain: "tradeplane.accounting" });
      const violations = detail<BadRequest>(error, "google.rpc.BadRequest").fieldViolations;
      expect(violations.map(({ field, description }) => ({ field, description }))).to.deep.equal([
        { field: "quantity", description: "must be greater than 0" },
      ]);
    });

    it("maps 'not_found' to NOT_FOUND with the error's metadata", async () => {
      const error = await call("MISSING");
      expect(error.code).to.equal(Status.NOT_FOUND);
      expect(detail<ErrorInfo>(error, "google.rpc.ErrorInfo").metadata).to.deep.equal({ securityId: "MISSING" });
    });

    it("maps 'failed_precondition' to FAILED_PRECONDITION with a PreconditionFailure", async () => {
      const error = await call("CLOSED");
      expect(error.code).to.equal(Status.FAILED_PRECONDITION);
      expect(detail<PreconditionFailure>(error, "google.rpc.PreconditionFailure").violations[0]).to.include({
        type: "PORTFOLIO_CLOSED",
        description: "the portfolio is closed",
      });
    });

    it("maps 'unavailable' with retryAfterMs to UNAVAILABLE with RetryInfo", async () => {
      const error = await call("BUSY");
      expect(error.code).to.equal(Status.UNAVAILABLE);
      expect(detail<RetryInfo>(error, "google.rpc.RetryInfo").retryDelay).to.deep.include({ seconds: 1, nanos: 500_000_000 });
    });

    it("maps a database connection failure to UNAVAILABLE", async () => {
      const error = await call("DB");
      expect(error.code).to.equal(Status.UNAVAILABLE);
      expect(error.details).not.to.contain("5432");
      expect(detail<ErrorInfo>(error, "google.rpc.ErrorInfo").reason).to.equal("DEPENDENCY_UNAVAILABLE");
    });

    it("answers an unexpected exception with INTERNAL, an error id and no stack or message, and logs the real error", async () => {
      const error = await call("CRASH");
      expect(error.code).to.equal(Status.INTERNAL);
      expect(error.details).to.match(/^internal error \(error id [0-9a-f-]{36}\)$/);
      expect(error.details).not.to.match(/TypeError|secret|\.ts:|at /);
      const errorId = detail<ErrorInfo>(error, "google.rpc.ErrorInfo").metadata.errorId;
      const logged = h.logLines.map((line) => JSON.parse(line)).find((record) => record.errorId === errorId);
      expect(logged?.level).to.equal("error");
      expect(logged?.err.message).to.contain("Cannot read properties of undefined");
    });
  });

  it("maps a domain error thrown mid-stream after frames were sent", async () => {
    const token = await h.token({ sub: "stream-user" });
    const frames: string[] = [];
    let caught: unknown;
    try {
      for await (const frame of h.marketData.streamQuotes({ symbols: ["AAPL"], resumeToken: "" }, bearer(token))) frames.push(frame.resumeToken);
    } catch (error) {
      caught = error;
    }
    expect(frames).to.deep.equal(["t1"]);
    expect(caught).to.be.instanceOf(RichClientError);
    expect((caught as RichClientError).code).to.equal(Status.INVALID_ARGUMENT);
    expect(detail<ErrorInfo>(caught as RichClientError, "google.rpc.ErrorInfo").reason).to.equal("TOO_MANY_SYMBOLS");
  });
});
