import { expect } from "chai";
import { context, trace } from "@opentelemetry/api";
import { createClientFactory } from "nice-grpc";
import { ClientError } from "nice-grpc-common";
import { AccountingServiceDefinition } from "../../../generated/tradeplane/accounting/v1/accounting_service";
import { createHttpServer, type TradeplaneHttpServer } from "../../../services/platform/http-server";
import { createLogger } from "../../../services/platform/logger";
import { setupTelemetry, telemetryClientMiddleware } from "../../../services/platform/telemetry";
import { bearer, startHarness, type Harness } from "./grpc-fixture";

function counterValue(text: string, name: string, labels: Record<string, string>): number {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const line = text.split("\n").find((l) => l.startsWith(`${name}{`) && wanted.every((w) => l.includes(w)));
  return line === undefined ? 0 : Number(line.split(" ").at(-1));
}

describe("gRPC platform: metrics and the HTTP side server", () => {
  let h: Harness;
  let http: TradeplaneHttpServer;
  let base: string;
  let handlerTraceId: string | undefined;

  before(async () => {
    setupTelemetry({ serviceName: "test", exporter: "none" });
    h = await startHarness({
      accounting: {
        async getBalance(request) {
          handlerTraceId = trace.getActiveSpan()?.spanContext().traceId;
          return { balance: { id: "1", portfolioId: request.portfolioId, securityId: "", quantityLong: "1", quantityShort: "0", version: 1, quantityReserved: "0", quantityAvailable: "1" } };
        },
      },
    });
    http = createHttpServer({ logger: createLogger({ name: "test", level: "silent" }), healthStatus: () => h.server.healthStatus("") });
    http.route("GET", "/hello", (_request, response) => {
      response.end("hi");
    });
    http.route("GET", "/broken", () => {
      throw new Error("secret internals at handler.ts:42");
    });
    http.fallback((request, response, url) => {
      response.writeHead(200, { "content-type": "text/plain" });
      response.end(`bridge saw ${request.method} ${url.pathname}`);
    });
    base = `http://127.0.0.1:${await http.listen("127.0.0.1", 0)}`;
  });

  after(async () => {
    await http.close({ graceMs: 1_000 });
    await h.close();
  });

  it("counts RPCs by service, method and status code and exposes them on /metrics", async () => {
    const labels = { grpc_service: "tradeplane.accounting.v1.AccountingService", grpc_method: "GetBalance", grpc_type: "unary" };
    const before = await (await fetch(`${base}/metrics`)).text();
    await h.accounting.getBalance({ portfolioId: "P1" }, bearer(await h.token()));
    await h.accounting.getBalance({ portfolioId: "P1" }).catch((error: unknown) => expect(error).to.be.instanceOf(ClientError));

    const response = await fetch(`${base}/metrics`);
    expect(response.status).to.equal(200);
    expect(response.headers.get("content-type")).to.contain("text/plain");
    const text = await response.text();
    for (const code of ["OK", "UNAUTHENTICATED"]) {
      const name = "grpc_server_handled_total";
      expect(counterValue(text, name, { ...labels, grpc_code: code }) - counterValue(before, name, { ...labels, grpc_code: code }), code).to.equal(1);
    }
    expect(counterValue(text, "grpc_server_started_total", labels) - counterValue(before, "grpc_server_started_total", labels)).to.equal(2);
    expect(text).to.match(/grpc_server_handling_seconds_bucket\{[^}]*grpc_method="GetBalance"[^}]*grpc_code="OK"[^}]*\} \d+/);
    expect(text).to.contain("process_cpu_user_seconds_total");
  });

  it("continues the caller's trace in the handler", async () => {
    const client = createClientFactory().use(telemetryClientMiddleware()).create(AccountingServiceDefinition, h.channel);
    const span = trace.getTracer("test").startSpan("caller");
    const token = await h.token();
    await context.with(trace.setSpan(context.active(), span), () => client.getBalance({ portfolioId: "P1" }, bearer(token)));
    span.end();
    expect(handlerTraceId).to.equal(span.spanContext().traceId);
  });

  it("serves /healthz from the gRPC health: 200 while serving, 503 once draining", async () => {
    const serving = await fetch(`${base}/healthz`);
    expect(serving.status).to.equal(200);
    expect(await serving.json()).to.deep.equal({ status: "SERVING" });
    h.server.drain();
    const draining = await fetch(`${base}/healthz`);
    expect(draining.status).to.equal(503);
    expect(await draining.json()).to.deep.equal({ status: "NOT_SERVING" });
  });

  it("routes registered paths, hands the rest to the fallback, and hides handler failures behind an error id", async () => {
    expect(await (await fetch(`${base}/hello?x=1`)).text()).to.equal("hi");
    expect(await (await fetch(`${base}/api/v1/models`, { method: "POST" })).text()).to.equal("bridge saw POST /api/v1/models");
    const broken = await fetch(`${base}/broken`);
    expect(broken.status).to.equal(500);
    const body = await broken.json();
    expect(body.errorId).to.match(/^[0-9a-f-]{36}$/);
    expect(JSON.stringify(body)).not.to.contain("secret");
  });
});
