import { expect } from "chai";
import * as net from "node:net";
import { createChannel, createClient, type Channel } from "nice-grpc";
import { ClientError, Status } from "nice-grpc-common";
import { HealthDefinition } from "nice-grpc-server-health";
import { HealthCheckResponse_ServingStatus as Serving } from "nice-grpc-server-health/lib/proto/grpc/health/v1/health";
import { createClients } from "../../../clients/node";
import { MarketDataServiceDefinition } from "../../../generated/tradeplane/marketdata/v1/market_data_service";
import { registrationOf } from "../../../services/main";
import { startServices, type RunningService } from "../../../services/platform/runtime";
import { unimplementedService } from "../../../services/platform/unimplemented";
import { runDatabaseUrl } from "../../support/backends";
import { testEnv } from "../../support/system";
import { createLogger } from "../../../services/platform/logger";

/** A TCP proxy in front of the database that a test can cut and restore, like a network partition. */
async function startProxy(target: URL): Promise<{ port: number; cut(): Promise<void>; restore(): Promise<void>; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  let server: net.Server | undefined;
  let port = 0;
  const listen = () =>
    new Promise<void>((resolve) => {
      server = net.createServer((client) => {
        const upstream = net.connect(Number(target.port || 5432), target.hostname);
        for (const s of [client, upstream]) {
          sockets.add(s);
          s.on("close", () => sockets.delete(s));
          s.on("error", () => s.destroy());
        }
        client.pipe(upstream).pipe(client);
      });
      server.listen(port, "127.0.0.1", () => {
        port = (server!.address() as net.AddressInfo).port;
        resolve();
      });
    });
  const cut = async () => {
    const closing = server;
    server = undefined;
    for (const s of sockets) s.destroy();
    if (closing) await new Promise<void>((resolve) => closing.close(() => resolve()));
  };
  await listen();
  return { port, cut, restore: listen, close: cut };
}

async function until(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("runtime: health follows the database", () => {
  let proxy: Awaited<ReturnType<typeof startProxy>>;
  let running: RunningService;
  let channel: Channel;

  before(async () => {
    const target = new URL(runDatabaseUrl());
    proxy = await startProxy(target);
    const viaProxy = new URL(target.toString());
    viaProxy.hostname = "127.0.0.1";
    viaProxy.port = String(proxy.port);
    const env = testEnv({ env: { DATABASE_URL: viaProxy.toString(), HEALTH_PROBE_INTERVAL: "100ms" } });
    running = await startServices(
      [
        async (runtime) => {
          const db = await runtime.openDatabase("health_probe_check");
          runtime.grpc.add(MarketDataServiceDefinition, unimplementedService(MarketDataServiceDefinition, "MarketDataService"), {
            probe: () => db.probe(),
          });
        },
      ],
      env,
      { logger: createLogger({ name: "test", level: "silent" }) },
    );
    channel = createChannel(`127.0.0.1:${running.ports.grpc}`);
  });

  after(async () => {
    channel?.close();
    await running?.stop();
    await proxy?.close();
  });

  const statusOf = async (service: string) => (await createClient(HealthDefinition, channel).check({ service })).status;

  it("reports SERVING while the database answers", async () => {
    expect(await statusOf("tradeplane.marketdata.v1.MarketDataService")).to.equal(Serving.SERVING);
  });

  it("reports NOT_SERVING when the database becomes unreachable, and SERVING again when it is back", async () => {
    await proxy.cut();
    await until(async () => (await statusOf("tradeplane.marketdata.v1.MarketDataService")) === Serving.NOT_SERVING);
    await proxy.restore();
    await until(async () => (await statusOf("tradeplane.marketdata.v1.MarketDataService")) === Serving.SERVING);
  });
});

describe("one-process runner", () => {
  let running: RunningService;

  before(async () => {
    running = await startServices([registrationOf("gateway")], testEnv(), { logger: createLogger({ name: "test", level: "silent" }) });
  });

  after(async () => {
    await running?.stop();
  });

  it("answers UNIMPLEMENTED with the service and method named when a service is not built", async () => {
    // A throwaway runtime with a stand-in, as services/main.ts registers one for a module that does not exist.
    const stand = await startServices(
      [async (runtime) => runtime.grpc.add(MarketDataServiceDefinition, unimplementedService(MarketDataServiceDefinition, "tradeplane.marketdata.v1.MarketDataService"))],
      testEnv(),
      { logger: createLogger({ name: "test", level: "silent" }) },
    );
    const token = await stand.runtime.issueToken({ sub: "t", roles: ["trader"], portfolios: ["*"] }, 60);
    const clients = createClients({ address: `127.0.0.1:${stand.ports.grpc}`, token, deadlineMs: 5_000 });
    try {
      const error = await clients.marketData.getQuote({ symbol: "AAPL" }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).to.be.instanceOf(ClientError);
      expect((error as ClientError).code).to.equal(Status.UNIMPLEMENTED);
      expect((error as ClientError).details).to.contain("tradeplane.marketdata.v1.MarketDataService.getQuote");
    } finally {
      clients.close();
      await stand.stop();
    }
  });

  it("serves /metrics and /healthz on the HTTP port", async () => {
    const metrics = await fetch(`http://127.0.0.1:${running.ports.http}/metrics`);
    expect(metrics.status).to.equal(200);
    expect(await metrics.text()).to.contain("process_cpu_seconds_total");
    const health = await fetch(`http://127.0.0.1:${running.ports.http}/healthz`);
    expect(health.status).to.equal(200);
  });

  it("mints tokens the server accepts, so the printed development token works", async () => {
    const token = await running.runtime.issueToken({ sub: "developer", roles: ["trader", "admin", "feed"], portfolios: ["*"] }, 60);
    const principal = await running.runtime.authenticator.verify(token);
    expect(principal.subject).to.equal("developer");
    expect(principal.allPortfolios).to.equal(true);
  });
});
