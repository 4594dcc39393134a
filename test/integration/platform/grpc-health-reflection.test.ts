import { expect } from "chai";
import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { ClientError, Status } from "nice-grpc-common";
import { HealthCheckResponse_ServingStatus as Serving } from "nice-grpc-server-health/lib/proto/grpc/health/v1/health";
import { startHarness, type Harness } from "./grpc-fixture";

const run = promisify(execFile);
const BUF = path.resolve(__dirname, "../../../node_modules/.bin/buf");

async function bufCurl(port: number, args: string[], method = ""): Promise<string> {
  const url = `http://127.0.0.1:${port}${method === "" ? "" : `/${method}`}`;
  const { stdout } = await run(BUF, ["curl", "--protocol", "grpc", "--http2-prior-knowledge", ...args, url], {
    timeout: 20_000,
  });
  return stdout;
}

async function until(check: () => boolean | Promise<boolean>, timeoutMs = 3_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const SERVED = [
  "grpc.health.v1.Health",
  "grpc.reflection.v1.ServerReflection",
  "grpc.reflection.v1alpha.ServerReflection",
  "tradeplane.accounting.v1.AccountingService",
  "tradeplane.marketdata.v1.MarketDataService",
];

describe("gRPC platform: health and reflection", () => {
  let h: Harness;
  let databaseUp = true;

  before(async () => {
    h = await startHarness({
      server: { probeIntervalMs: 50, probeTimeoutMs: 200 },
      accounting: {
        async getBalance(request) {
          return { balance: { id: "7", portfolioId: request.portfolioId, securityId: "", quantityLong: "10.50", quantityShort: "0", version: 3, lastUpdated: new Date("2024-01-02T03:04:05Z"), quantityReserved: "0", quantityAvailable: "10.50" } };
        },
      },
      accountingProbe: async () => {
        if (!databaseUp) throw new Error("connect ECONNREFUSED 127.0.0.1:5432");
      },
    });
  });

  after(async () => {
    await h.close();
  });

  it("reports SERVING for each service and the whole server, without a token", async () => {
    for (const service of ["", "tradeplane.accounting.v1.AccountingService", "tradeplane.marketdata.v1.MarketDataService"]) {
      expect((await h.health.check({ service })).status, service).to.equal(Serving.SERVING);
    }
  });

  it("answers NOT_FOUND for a service it does not serve", async () => {
    try {
      await h.health.check({ service: "tradeplane.nothing.v1.Nothing" });
      expect.fail("should fail");
    } catch (error) {
      expect((error as ClientError).code).to.equal(Status.NOT_FOUND);
    }
  });

  it("turns a service NOT_SERVING while its probe fails, streams the change to watchers, and recovers", async () => {
    const abort = new AbortController();
    const seen: Serving[] = [];
    const watching = (async () => {
      try {
        for await (const update of h.health.watch({ service: "tradeplane.accounting.v1.AccountingService" }, { signal: abort.signal })) {
          seen.push(update.status);
        }
      } catch {
        // aborted by the test
      }
    })();
    await until(() => seen.length === 1);
    databaseUp = false;
    await until(() => h.server.healthStatus("tradeplane.accounting.v1.AccountingService") === "NOT_SERVING");
    expect((await h.health.check({ service: "tradeplane.accounting.v1.AccountingService" })).status).to.equal(Serving.NOT_SERVING);
    expect((await h.health.check({ service: "" })).status).to.equal(Serving.NOT_SERVING);
    expect((await h.health.check({ service: "tradeplane.marketdata.v1.MarketDataService" })).status).to.equal(Serving.SERVING);
    databaseUp = true;
    await until(() => h.server.healthStatus("") === "SERVING");
    await until(() => seen.length === 3);
    abort.abort();
    await watching;
    expect(seen).to.deep.equal([Serving.SERVING, Serving.NOT_SERVING, Serving.SERVING]);
  });

  it("lists every served service, health and reflection included, through reflection v1", async () => {
    const listed = (await bufCurl(h.port, ["--list-services"])).trim().split("\n").sort();
    expect(listed).to.deep.equal(SERVED);
  });

  it("lists the same services through reflection v1alpha", async () => {
    const listed = (await bufCurl(h.port, ["--reflect-protocol", "grpc-v1alpha", "--list-services"])).trim().split("\n").sort();
    expect(listed).to.deep.equal(SERVED);
  });

  it("resolves method schemas through reflection, so buf curl can call a method by name", async () => {
    const methods = (await bufCurl(h.port, ["--list-methods"])).trim().split("\n");
    expect(methods).to.include("tradeplane.accounting.v1.AccountingService/GetBalance");
    expect(methods).to.include("grpc.health.v1.Health/Watch");
    const answer = JSON.parse(await bufCurl(h.port, ["-d", '{"service":"tradeplane.accounting.v1.AccountingService"}'], "grpc.health.v1.Health/Check"));
    expect(answer).to.deep.equal({ status: "SERVING" });
    const token = await h.token();
    const balance = JSON.parse(
      await bufCurl(h.port, ["-H", `authorization: Bearer ${token}`, "-d", '{"portfolioId":"P1"}'], "tradeplane.accounting.v1.AccountingService/GetBalance"),
    );
    expect(balance.balance).to.include({ id: "7", quantityLong: "10.50", lastUpdated: "2024-01-02T03:04:05Z" });
  });
});
