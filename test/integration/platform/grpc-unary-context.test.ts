import { expect } from "chai";
import { context, trace } from "@opentelemetry/api";
import { createClientFactory } from "nice-grpc";
import { ClientError, Metadata, Status } from "nice-grpc-common";
import { errorDetailsClientMiddleware, type ErrorInfo, RichClientError } from "nice-grpc-error-details";
import { AccountingServiceDefinition } from "../../../generated/tradeplane/accounting/v1/accounting_service";
import { setupTelemetry, telemetryClientMiddleware } from "../../../services/platform/telemetry";
import { bearer, startHarness, type Harness } from "./grpc-fixture";

const balance = { id: "1", portfolioId: "P1", securityId: "", quantityLong: "1", quantityShort: "0", version: 1, quantityReserved: "0", quantityAvailable: "1" };

describe("gRPC platform: what a unary handler sees and sends", () => {
  let h: Harness;
  let seen: { requestId?: string; peer?: string; subject?: string; aborted?: boolean } = {};

  before(async () => {
    setupTelemetry({ serviceName: "test", exporter: "none" });
    h = await startHarness({
      accounting: {
        async getBalance(request, callContext) {
          if (request.securityId === "CRASH") throw new Error("handler bug");
          if (request.securityId === "NOTHING") return undefined as never;
          seen = {
            requestId: callContext.metadata.get("x-request-id"),
            peer: callContext.peer,
            subject: callContext.principal.subject,
            aborted: callContext.signal.aborted,
          };
          callContext.header.set("x-served-by", "tradeplane");
          callContext.trailer.set("x-ledger-version", "7");
          return { balance };
        },
      },
    });
  });

  after(async () => {
    await h.close();
  });

  it("gives the handler the caller's metadata, peer and principal, and sends the headers and trailers it sets", async () => {
    let header: Metadata | undefined;
    let trailer: Metadata | undefined;
    const metadata = Metadata({ authorization: `Bearer ${await h.token({ sub: "carol" })}`, "x-request-id": "req-42" });
    const response = await h.accounting.getBalance(
      { portfolioId: "P1" },
      { metadata, onHeader: (value) => (header = value), onTrailer: (value) => (trailer = value) },
    );
    expect(response.balance?.quantityAvailable).to.equal("1");
    expect(seen).to.include({ requestId: "req-42", subject: "carol", aborted: false });
    expect(seen.peer).to.match(/127\.0\.0\.1:\d+$/);
    expect(header?.get("x-served-by")).to.equal("tradeplane");
    expect(trailer?.get("x-ledger-version")).to.equal("7");
  });

  it("answers a handler that returns no response with INTERNAL and an error id", async () => {
    const error = await h.accounting.getBalance({ portfolioId: "P1", securityId: "NOTHING" }, bearer(await h.token())).then(
      () => expect.fail("expected the call to fail"),
      (caught: unknown) => caught as ClientError,
    );
    expect(error.code).to.equal(Status.INTERNAL);
    expect(error.details).to.match(/^internal error \(error id [0-9a-f-]{36}\)$/);
  });

  it("logs a handler failure with the trace id of the caller, or of a new trace when the caller sent none", async () => {
    const traced = createClientFactory()
      .use(errorDetailsClientMiddleware)
      .use(telemetryClientMiddleware())
      .create(AccountingServiceDefinition, h.channel);
    const token = await h.token();
    const errorIdOf = async (call: Promise<unknown>) => {
      const error = await call.then(() => expect.fail("expected the call to fail"), (caught: unknown) => caught as RichClientError);
      return (error.extra.find((d) => d.$type === "google.rpc.ErrorInfo") as ErrorInfo).metadata.errorId!;
    };
    const loggedTraceId = (errorId: string) =>
      h.logLines.map((line) => JSON.parse(line)).find((record) => record.errorId === errorId)?.trace_id as string | undefined;

    const caller = trace.getTracer("test").startSpan("caller");
    const withCaller = await context.with(trace.setSpan(context.active(), caller), () =>
      errorIdOf(traced.getBalance({ portfolioId: "P1", securityId: "CRASH" }, bearer(token))),
    );
    caller.end();
    const withoutCaller = await errorIdOf(h.accounting.getBalance({ portfolioId: "P1", securityId: "CRASH" }, bearer(token)));

    expect(loggedTraceId(withCaller)).to.equal(caller.spanContext().traceId);
    expect(loggedTraceId(withoutCaller)).to.match(/^[0-9a-f]{32}$/).and.not.equal(caller.spanContext().traceId);
  });
});
