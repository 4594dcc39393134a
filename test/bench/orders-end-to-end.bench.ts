// Orders end to end: SubmitOrder → outbox → RabbitMQ → execution worker → fill event → accounting's position worker,
// with the order service, accounting and a fixed-quote market data peer in one service process of their own (the
// load generator and the observer run here, as any real caller would) on the configured backends (real Postgres and
// RabbitMQ when DATABASE_URL and AMQP_URL are set, as in CI).
//
// Baseline measured in the same run: `pgbench -N` (the simple-update TPC-B variant) on the same Postgres server.
// Targets (issue 5):
//   - sustained submit → executed → position updated throughput ≥ 0.25 × pgbench -N TPS (and ≥ 1,000 orders/s);
//   - at 500 orders/s: submit acknowledgement p99 ≤ 10 ms, submit → position updated p50 ≤ 5 ms and p99 ≤ 25 ms.
// "Position updated" is the moment the fill's booking is visible in accounting's balances table: one observer
// connection reads the position of every portfolio with an order outstanding (each has at most one in the latency
// phase) about every millisecond, so a figure includes up to one observation round. Reading the table once per
// round, rather than calling GetBalance per outstanding portfolio in a tight loop, keeps the observation from adding
// hundreds of calls per second to the very system it measures.
import { execFileSync } from "node:child_process";
import * as os from "node:os";
import { performance } from "node:perf_hooks";
import { randomBytes } from "node:crypto";
import { createClients } from "../../clients/node";
import { Side } from "../../generated/tradeplane/common/v1/common";
import { OrderType, TimeInForce } from "../../generated/tradeplane/orders/v1/orders";
import { SubmitOrderRequest, SubmitOrderResponse } from "../../generated/tradeplane/orders/v1/order_service";
import { Client as PgClient } from "pg";
import { issueToken } from "../../services/platform/auth";
import { connectionSettings, createTestDatabase } from "../../services/platform/database";
import { createIsolatedVhost } from "../chaos/isolated-vhost";
import { connectLeanGrpc } from "./support/lean-grpc-client";
import { backendCpuMs, backendCpuSpentMs, brokerPids, cpuMsOf } from "./support/process-cpu";
import { scrapeGauges } from "./support/metrics-scrape";
import { percentile, report } from "./support/report";
import { startServiceProcess, type FakeMarketSpec, type ServiceProcess } from "./support/service-process";

const SECRET = "bench-secret-0123456789abcdef0123456789";
const SYMBOLS = 20;
const THROUGHPUT_PORTFOLIOS = 50;
const THROUGHPUT_ORDERS = Number(process.env.ORDERS_BENCH_ORDERS ?? 6000);
const THROUGHPUT_CONCURRENCY = Number(process.env.ORDERS_BENCH_CONCURRENCY ?? 128);
// ORDERS_BENCH_RATE explores other rates (e.g. the latency floor at a light load); the targets are set at 500/s.
const LATENCY_RATE_PER_S = Number(process.env.ORDERS_BENCH_RATE ?? 500);
const LATENCY_SECONDS = 10;
// Enough portfolios that one order outstanding per portfolio still lets the phase submit at its rate while orders
// take up to a couple of seconds to settle (a portfolio with an order outstanding is skipped, see below).
const LATENCY_PORTFOLIOS = 1000;

const id24 = (prefix: string): string => (prefix + randomBytes(12).toString("hex")).slice(0, 24);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function pgbenchTps(url: string): number {
  const quiet = { stdio: ["ignore", "pipe", "pipe"] as ("ignore" | "pipe")[] };
  execFileSync("pgbench", ["-i", "-s", "10", "-q", url], quiet);
  const out = execFileSync("pgbench", ["-N", "-c", "8", "-j", "2", "-T", "10", url], quiet).toString();
  const match = /tps = ([\d.]+) \((?:without initial connection time|excluding connections establishing)\)/.exec(out);
  if (!match) throw new Error(`cannot read pgbench output:\n${out}`);
  return Number(match[1]);
}

async function main(): Promise<void> {
  const baseUrl = process.env.DATABASE_URL || undefined;
  let baselineTps = NaN;
  if (baseUrl !== undefined) {
    const pgbenchDb = await createTestDatabase({ baseUrl });
    try {
      baselineTps = pgbenchTps(pgbenchDb.url);
    } finally {
      await pgbenchDb.drop();
    }
  } else {
    console.log("  DATABASE_URL is not set: no pgbench baseline; running on the embedded backends");
  }

  const db = await createTestDatabase();
  // Its own vhost, so other runs on the broker cannot consume this run's messages.
  const vhost = process.env.AMQP_URL ? createIsolatedVhost(process.env.AMQP_URL, "bench") : null;
  const symbols = Array.from({ length: SYMBOLS }, (_, i) => `B${i}${randomBytes(2).toString("hex").toUpperCase()}`);
  const securities = new Map(symbols.map((s) => [s, id24(`sb${s}`)]));
  const market: FakeMarketSpec[] = symbols.map((symbol) => ({
    symbol,
    securityId: securities.get(symbol)!,
    bid: "99.95",
    ask: "100.05",
    last: "100",
  }));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    GRPC_PORT: "0",
    HTTP_PORT: "0",
    JWT_SECRET: SECRET,
    DATABASE_URL: db.url,
    ...(vhost ? { AMQP_URL: vhost.url } : {}),
    ACCOUNTING_DAILY_DEPOSIT_LIMIT: "1000000000000",
    ORDERS_DB_POOL_MAX: "20",
    ACCOUNTING_DB_POOL_MAX: "20",
    RATE_LIMIT_PER_SECOND: "0",
    BENCH_FAKE_MARKET: JSON.stringify(market),
  };
  // The services (orders, accounting, a fixed-quote market data peer) run in a process of their own, as they would
  // for any real caller; this process is only the load generator and the observer.
  // ORDERS_BENCH_PROCESSES=per-service runs accounting and orders (with the market data peer) in a process each, as
  // a split deployment would: two event loops, and holds go to accounting over gRPC.
  // ORDERS_BENCH_REPLICAS=n runs n identical service processes (each with orders, accounting and the market data
  // peer, all on the same database and broker), as a deployment scales Node services: one process per core. The
  // load generator spreads its submits over them.
  const perService = process.env.ORDERS_BENCH_PROCESSES === "per-service";
  const replicas = perService ? 1 : Math.max(1, Number(process.env.ORDERS_BENCH_REPLICAS ?? 1));
  if (replicas > 1 && (baseUrl === undefined || vhost === null)) {
    throw new Error("ORDERS_BENCH_REPLICAS > 1 needs DATABASE_URL and AMQP_URL: replicas share the database and the broker");
  }
  const accountingProcess = perService ? await startServiceProcess(["accounting"], { ...env, BENCH_FAKE_MARKET: "" }) : null;
  const running: ServiceProcess[] = [];
  // One at a time: the first applies the migrations.
  for (let i = 0; i < replicas; i++) {
    running.push(
      await startServiceProcess(
        perService ? ["orders"] : ["accounting", "orders"],
        accountingProcess ? { ...env, ACCOUNTING_ADDRESS: `127.0.0.1:${accountingProcess.grpcPort}` } : env,
      ),
    );
  }
  const serviceProcesses = [...running, ...(accountingProcess ? [accountingProcess] : [])];
  const servicePids = serviceProcesses.map((r) => r.child.pid!);
  const serviceCpuMsNow = () => servicePids.reduce((sum, pid) => sum + cpuMsOf(pid), 0);
  const token = await issueToken(
    { secret: SECRET, issuer: "tradeplane", audience: "tradeplane" },
    { sub: "bench", roles: ["admin", "trader"], portfolios: ["*"] },
    3600,
  );
  const replicaClients = running.map((r) => createClients({ address: `127.0.0.1:${r.grpcPort}`, token, deadlineMs: 30_000 }));
  const accountingClients = accountingProcess
    ? createClients({ address: `127.0.0.1:${accountingProcess.grpcPort}`, token, deadlineMs: 30_000 })
    : replicaClients[0];
  const clients = { accounting: accountingClients.accounting };
  // Submits go through a lean HTTP/2 gRPC client (support/lean-grpc-client.ts): the load generator shares the two
  // cores with the system it measures, and a grpc-js client would take about 0.5 ms of CPU per order from it, as
  // much as a quarter of what the services spend. ORDERS_BENCH_CLIENT=grpc-js submits through the project's
  // client instead, to compare.
  const leanSubmits = process.env.ORDERS_BENCH_CLIENT !== "grpc-js";
  const leanClients = running.map((r) =>
    connectLeanGrpc(`127.0.0.1:${r.grpcPort}`, { authorization: `Bearer ${token}` }, 30_000),
  );
  // Submits the i-th order (round robin over the replicas) and checks the service created it.
  const submitOrder = async (i: number, request: SubmitOrderRequest): Promise<void> => {
    const response = leanSubmits
      ? SubmitOrderResponse.decode(
          await leanClients[i % leanClients.length].unary(
            "/tradeplane.orders.v1.OrderService/SubmitOrder",
            SubmitOrderRequest.encode(request).finish(),
          ),
        )
      : await replicaClients[i % replicaClients.length].orders.submitOrder(request);
    if (response.order === undefined || response.replayed) throw new Error(`submit ${i} created no order`);
  };

  try {
    const portfolios = Array.from({ length: THROUGHPUT_PORTFOLIOS + LATENCY_PORTFOLIOS }, () => id24("pb"));
    for (let i = 0; i < portfolios.length; i += 50) {
      await Promise.all(
        portfolios
          .slice(i, i + 50)
          .map((portfolioId) => clients.accounting.deposit({ portfolioId, amount: "1000000", idempotencyKey: `fund-${portfolioId}` })),
      );
    }

    // Warm-up: connections, prepared plans, queues.
    await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        submitOrder(i, submit(portfolios[i % THROUGHPUT_PORTFOLIOS], symbols[i % SYMBOLS])),
      ),
    );
    await sleep(2000);

    // Throughput: a fixed number of orders at a fixed concurrency; done when every fill is booked by accounting.
    const expected = new Map<string, number>();
    // CPU time per order of the service process (and of this load generator): steadier than the rate on a shared
    // machine, and what a change saves. The service process's CPU over the phase's wall time says how close to one
    // core (its event loop's limit) it ran.
    const throughputCpu = process.cpuUsage();
    const serviceCpuBefore = serviceCpuMsNow();
    // And what each order costs Postgres (this run's backends) and RabbitMQ: the whole system's work per order.
    const observerDb = new PgClient(connectionSettings(db.url));
    await observerDb.connect();
    const database = new URL(db.url).pathname.slice(1);
    const backendsBefore = await backendCpuMs(observerDb, database);
    const broker = brokerPids();
    const brokerBefore = broker.reduce((sum, pid) => sum + cpuMsOf(pid), 0);
    const throughputStart = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: THROUGHPUT_CONCURRENCY }, async () => {
        for (;;) {
          const i = next++;
          if (i >= THROUGHPUT_ORDERS) return;
          const portfolioId = portfolios[i % THROUGHPUT_PORTFOLIOS];
          const symbol = symbols[Math.floor(i / THROUGHPUT_PORTFOLIOS) % SYMBOLS];
          const key = `${portfolioId}/${symbol}`;
          expected.set(key, (expected.get(key) ?? 0) + 1);
          await submitOrder(i, submit(portfolioId, symbol));
        }
      }),
    );
    const submittedMs = performance.now() - throughputStart;
    const warm = new Map<string, number>();
    for (let i = 0; i < 200; i++) {
      const key = `${portfolios[i % THROUGHPUT_PORTFOLIOS]}/${symbols[i % SYMBOLS]}`;
      warm.set(key, (warm.get(key) ?? 0) + 1);
    }
    for (;;) {
      let missing = 0;
      for (const portfolioId of portfolios.slice(0, THROUGHPUT_PORTFOLIOS)) {
        const { balances } = await clients.accounting.listBalances({ portfolioId, pageSize: 1000 });
        for (const symbol of symbols) {
          const key = `${portfolioId}/${symbol}`;
          const want = (expected.get(key) ?? 0) + (warm.get(key) ?? 0);
          const have = Number(balances.find((b) => b.securityId === securities.get(symbol))?.quantityLong ?? 0);
          missing += Math.max(0, want - have);
        }
      }
      if (missing === 0) break;
      if (performance.now() - throughputStart > 300_000) throw new Error(`${missing} fills never booked`);
      await sleep(100);
    }
    const settledMs = performance.now() - throughputStart;
    const cpu = process.cpuUsage(throughputCpu);
    const loadGeneratorCpuMsPerOrder = (cpu.user + cpu.system) / 1000 / THROUGHPUT_ORDERS;
    const serviceCpuMs = serviceCpuMsNow() - serviceCpuBefore;
    const cpuMsPerOrder = serviceCpuMs / THROUGHPUT_ORDERS;
    const serviceCores = serviceCpuMs / settledMs;
    const postgresCpuMsPerOrder = backendCpuSpentMs(backendsBefore, await backendCpuMs(observerDb, database)) / THROUGHPUT_ORDERS;
    const brokerCpuMsPerOrder = (broker.reduce((sum, pid) => sum + cpuMsOf(pid), 0) - brokerBefore) / THROUGHPUT_ORDERS;
    await observerDb.end();
    const ordersPerSecond = THROUGHPUT_ORDERS / (settledMs / 1000);

    // Latency at a fixed rate: each latency portfolio has at most one order outstanding.
    const latencyPortfolios = portfolios.slice(THROUGHPUT_PORTFOLIOS);
    const ackMs: number[] = [];
    const settleMs: number[] = [];
    const held = new Map<string, number>();
    const outstanding = new Map<string, { since: number; want: number; symbol: string }>();
    // Wall-clock times of each portfolio's first order, for the per-hop breakdown below.
    const submittedAtWall = new Map<string, number>();
    const seenAtWall = new Map<string, number>();
    let polling = true;
    const observer = new PgClient(connectionSettings(db.url));
    await observer.connect();
    const observedSecurity = securities.get(symbols[0])!;
    const poller = (async () => {
      while (polling || outstanding.size > 0) {
        if (outstanding.size > 0) {
          const { rows } = await observer.query<{ portfolio_id: string; quantity_long: string }>({
            name: "observe-positions",
            text: "select portfolio_id, quantity_long from accounting.balances where security_id = $1 and portfolio_id = any($2::text[])",
            values: [observedSecurity, [...outstanding.keys()]],
          });
          const seenAt = performance.now();
          for (const row of rows) {
            const wait = outstanding.get(row.portfolio_id);
            if (wait !== undefined && Number(row.quantity_long) >= wait.want) {
              settleMs.push(seenAt - wait.since);
              if (wait.want === 1) seenAtWall.set(row.portfolio_id, Date.now());
              outstanding.delete(row.portfolio_id);
            }
          }
        }
        await sleep(1);
      }
    })();
    const total = LATENCY_RATE_PER_S * LATENCY_SECONDS;
    const intervalMs = 1000 / LATENCY_RATE_PER_S;
    const latencyStart = performance.now();
    const latencyServiceCpuBefore = serviceCpuMsNow();
    await eventLoopDelays(serviceProcesses); // a scrape resets the services' event loop delay histograms
    const inFlight: Promise<void>[] = [];
    for (let i = 0; i < total; i++) {
      const due = latencyStart + i * intervalMs;
      const wait = due - performance.now();
      if (wait > 1) await sleep(wait);
      const portfolioId = latencyPortfolios[i % LATENCY_PORTFOLIOS];
      if (outstanding.has(portfolioId)) continue; // its previous order is still settling: skip, keep the pace
      const symbol = symbols[0];
      const want = (held.get(portfolioId) ?? 0) + 1;
      held.set(portfolioId, want);
      const since = performance.now();
      if (want === 1) submittedAtWall.set(portfolioId, Date.now());
      outstanding.set(portfolioId, { since, want, symbol });
      inFlight.push(
        submitOrder(i, submit(portfolioId, symbol)).then(() => {
          ackMs.push(performance.now() - since);
        }),
      );
    }
    await Promise.all(inFlight);
    polling = false;
    await Promise.race([poller, sleep(30_000)]);
    const unsettled = outstanding.size; // still not booked after 30 s: reported, and left out of the percentiles
    outstanding.clear();
    await poller;
    const hops = await latencyByHop(observer, observedSecurity, submittedAtWall, seenAtWall);
    await observer.end();
    const achievedRate = ackMs.length / ((performance.now() - latencyStart) / 1000);
    // At a fixed rate the batches are as large as the rate makes them, so an order can cost more here than in the
    // throughput phase, where they are as large as the service's capacity makes them.
    const latencyCpuMsPerOrder = (serviceCpuMsNow() - latencyServiceCpuBefore) / Math.max(1, ackMs.length);
    const loopDelays = await eventLoopDelays(serviceProcesses);
    const ms = (value: number) => value.toFixed(2);
    // On the embedded backends the database runs inside this process, so its work counts as the load generator's.
    console.log(
      `  CPU per order in the throughput phase: service process ${ms(cpuMsPerOrder)} ms, Postgres ${ms(postgresCpuMsPerOrder)} ms, ` +
        `RabbitMQ ${ms(brokerCpuMsPerOrder)} ms, load generator ${ms(loadGeneratorCpuMsPerOrder)} ms; ` +
        `${running.length > 1 ? `${running.length} service processes` : "service process"} at ${serviceCores.toFixed(2)} cores; load average ${os.loadavg()[0].toFixed(2)}`,
    );
    console.log(`  CPU per order of the service processes in the latency phase (${LATENCY_RATE_PER_S}/s): ${ms(latencyCpuMsPerOrder)} ms`);
    // How long a ready callback (a gRPC request, a query's reply) waited behind other work: the part of the
    // latency that is the event loop's queue rather than a round trip.
    console.log(
      `  service event loop delay in the latency phase: p99 ${loopDelays.map((d) => ms(d.p99Ms)).join(" / ")} ms, ` +
        `max ${loopDelays.map((d) => ms(d.maxMs)).join(" / ")} ms`,
    );

    if (hops !== null) {
      console.log(
        `  submit → position p50 by hop (${hops.samples} orders): to the market check ${ms(hops.submitChecked)} ms, ` +
          `to the fill ${ms(hops.executed)} ms, to the booking ${ms(hops.booked)} ms, to the observer ${ms(hops.observed)} ms`,
      );
    }

    report({
      name: "orders-end-to-end",
      checks: [
        ...(Number.isNaN(baselineTps)
          ? []
          : [{ label: "end-to-end orders/s vs pgbench -N TPS", value: ordersPerSecond / baselineTps, target: 0.25, kind: "min" as const }]),
        { label: "end-to-end throughput", value: ordersPerSecond, target: 1000, kind: "min", unit: " orders/s" },
        { label: `submit ack p99 at ${LATENCY_RATE_PER_S}/s`, value: percentile(ackMs, 99), target: 10, kind: "max", unit: " ms" },
        { label: `submit → position p50 at ${LATENCY_RATE_PER_S}/s`, value: percentile(settleMs, 50), target: 5, kind: "max", unit: " ms" },
        { label: `submit → position p99 at ${LATENCY_RATE_PER_S}/s`, value: percentile(settleMs, 99), target: 25, kind: "max", unit: " ms" },
      ],
      measurements: {
        backends: { database: baseUrl === undefined ? "embedded" : "postgres", broker: vhost === null ? "memory" : "rabbitmq" },
        pgbenchNTps: baselineTps,
        serviceProcesses: servicePids.length,
        throughputOrders: THROUGHPUT_ORDERS,
        submitPhaseMs: submittedMs,
        settledMs,
        ordersPerSecond,
        serviceCores,
        cpuMsPerOrder,
        latencyCpuMsPerOrder,
        loadGeneratorCpuMsPerOrder,
        postgresCpuMsPerOrder,
        brokerCpuMsPerOrder,
        systemCpuMsPerOrder: cpuMsPerOrder + postgresCpuMsPerOrder + brokerCpuMsPerOrder,
        latencyOrders: ackMs.length,
        latencyUnsettled: unsettled,
        achievedRatePerS: achievedRate,
        ackMs: { p50: percentile(ackMs, 50), p90: percentile(ackMs, 90), p99: percentile(ackMs, 99) },
        ...(hops === null ? {} : { settleByHopMsP50: hops }),
        settleMs: {
          samples: settleMs.length,
          p50: percentile(settleMs, 50),
          p90: percentile(settleMs, 90),
          p99: percentile(settleMs, 99),
        },
      },
    });
  } finally {
    for (const lean of leanClients) lean.close();
    for (const replica of replicaClients) replica.close();
    if (accountingClients !== replicaClients[0]) accountingClients.close();
    for (const replica of running) await replica.stop();
    await accountingProcess?.stop();
    await db.drop();
    vhost?.drop();
  }
}

/**
 * Where submit → position updated goes, from the timestamps the services write (all on this machine's clock), as
 * p50s over the latency phase's portfolios whose one and only order was booked: `submitChecked` is the client's
 * send to the order's created_at (taken after the market check); `executed` from there to the fill (its done_at:
 * the rest of the submit, the first broker hop, the execution worker); `booked` from the fill to the start of
 * accounting's booking transaction (the fill event's broker hop, the position worker); `observed` from there to
 * the observer's read (the commit and up to one observation round). Null when no portfolio had only one order (at
 * rates above LATENCY_PORTFOLIOS / LATENCY_SECONDS each portfolio gets several).
 */
/** prom-client's `eventLoopMonitoringPrecision` default, which tradeplane keeps. */
const EVENT_LOOP_TIMER_MS = 10;

/**
 * Each service process's event loop delay since the previous scrape of its /metrics (prom-client's default metrics
 * read, then reset, a `monitorEventLoopDelay` histogram on every scrape). The histogram holds the time between the
 * ticks of a 10 ms timer, so the delay is what exceeds those 10 ms.
 */
async function eventLoopDelays(processes: readonly ServiceProcess[]): Promise<{ p99Ms: number; maxMs: number }[]> {
  return Promise.all(
    processes.map(async ({ httpPort }) => {
      const seconds = await scrapeGauges(httpPort, ["nodejs_eventloop_lag_p99_seconds", "nodejs_eventloop_lag_max_seconds"]);
      const delayMs = (value: number) => Math.max(0, value * 1000 - EVENT_LOOP_TIMER_MS);
      return { p99Ms: delayMs(seconds.nodejs_eventloop_lag_p99_seconds), maxMs: delayMs(seconds.nodejs_eventloop_lag_max_seconds) };
    }),
  );
}

async function latencyByHop(
  observer: PgClient,
  securityId: string,
  submittedAt: Map<string, number>,
  seenAt: Map<string, number>,
): Promise<Record<string, number> | null> {
  const { rows } = await observer.query<{ portfolio_id: string; created: string; done: string; booked: string }>(
    `select o.portfolio_id, extract(epoch from o.created_at) * 1000 as created, extract(epoch from o.done_at) * 1000 as done,
            extract(epoch from b.last_updated) * 1000 as booked
       from orders.orders o
       join accounting.balances b on b.portfolio_id = o.portfolio_id and b.security_id = $1
      where o.portfolio_id = any($2::text[]) and o.done_at is not null
        and (select count(*) from orders.orders x where x.portfolio_id = o.portfolio_id) = 1`,
    [securityId, [...seenAt.keys()]],
  );
  if (rows.length === 0) return null;
  const p50 = (values: number[]) => percentile(values, 50);
  const of = (pick: (row: (typeof rows)[number], sent: number, seen: number) => number) =>
    p50(rows.map((row) => pick(row, submittedAt.get(row.portfolio_id)!, seenAt.get(row.portfolio_id)!)));
  return {
    samples: rows.length,
    submitChecked: of((row, sent) => Number(row.created) - sent),
    executed: of((row) => Number(row.done) - Number(row.created)),
    booked: of((row) => Number(row.booked) - Number(row.done)),
    observed: of((row, _sent, seen) => seen - Number(row.booked)),
  };
}

function submit(portfolioId: string, symbol: string): SubmitOrderRequest {
  return SubmitOrderRequest.fromPartial({
    idempotencyKey: randomBytes(12).toString("hex"),
    portfolioId,
    symbol,
    side: Side.SIDE_BUY,
    type: OrderType.ORDER_TYPE_MARKET,
    timeInForce: TimeInForce.TIME_IN_FORCE_DAY,
    quantity: "1",
  });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
