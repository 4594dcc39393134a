// Failure test for the order flow on the real Postgres and RabbitMQ: a few thousand mixed orders over many portfolios
// while worker processes (order execution + accounting's position worker, as competing consumers) are SIGKILLed and
// restarted; every SIGKILL also cuts that process's RabbitMQ connection with deliveries in flight, and once the broker
// itself closes the connection of the main process (outbox relays publishing, consumers holding deliveries), as a
// broker restart or a network cut would. Afterwards every
// order is terminal or resting, accounting's positions equal what the fills imply, no terminal order holds a
// reservation, and AuditLedger reports zero differences.
import { expect } from "chai";
import { execFile, fork, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as path from "node:path";
import { promisify } from "node:util";
import { createClients, type TradeplaneClients } from "../../clients/node";
import { Side } from "../../generated/tradeplane/common/v1/common";
import { OrderStatus, OrderType, TimeInForce, type Order } from "../../generated/tradeplane/orders/v1/orders";
import { register as registerAccounting } from "../../services/accounting/main";
import { register as registerOrders } from "../../services/orders/main";
import { createTestDatabase, type TestDatabase } from "../../services/platform/database";
import { createLogger } from "../../services/platform/logger";
import { startServices, type RunningService } from "../../services/platform/runtime";
import { FakeMarket } from "../integration/orders/fake-market-data";
import { createIsolatedVhost, type IsolatedVhost } from "./isolated-vhost";

const ORDERS = Number(process.env.CHAOS_ORDERS ?? 2000);
const PORTFOLIOS = 40;
const SYMBOLS = 5;
const WORKERS = 2;
const KILLS = 6;
const SECRET = "chaos-secret-0123456789abcdef0123456789";
const id24 = (prefix: string): string => (prefix + randomBytes(12).toString("hex")).slice(0, 24);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const run = promisify(execFile);

/** RabbitMQ pids of the connections whose client-provided name is `connectionName` (the runtime names its own). */
async function connectionPids(connectionName: string): Promise<string[]> {
  const { stdout } = await run("rabbitmqctl", ["list_connections", "-q", "--no-table-headers", "pid", "client_properties"]);
  return stdout
    .split("\n")
    .filter((line) => line.includes(`{"connection_name","${connectionName}"}`))
    .map((line) => line.split("\t")[0]);
}

describe("orders chaos: worker processes killed during a few thousand orders", function () {
  this.timeout(600_000);
  let testDb: TestDatabase;
  let parent: RunningService;
  let clients: TradeplaneClients;
  const workers = new Set<ChildProcess>();
  const market = new FakeMarket();
  const symbols = Array.from({ length: SYMBOLS }, (_, i) => `C${i}${randomBytes(2).toString("hex").toUpperCase()}`);
  const securities = new Map(symbols.map((s) => [s, id24(`sc${s}`)]));
  const portfolios = Array.from({ length: PORTFOLIOS }, () => id24("pc"));
  let env: NodeJS.ProcessEnv;
  let vhost: IsolatedVhost | null = null;

  before(async function () {
    if (!process.env.DATABASE_URL || !process.env.AMQP_URL) this.skip();
    vhost = createIsolatedVhost(process.env.AMQP_URL, "chaos");
    testDb = await createTestDatabase();
    for (const symbol of symbols) {
      market.addInstrument(symbol, securities.get(symbol)!);
      market.setQuote(symbol, { bid: "99.95", ask: "100.05", last: "100" });
    }
    env = {
      ...process.env,
      GRPC_PORT: "0",
      HTTP_PORT: "0",
      JWT_SECRET: SECRET,
      DATABASE_URL: testDb.url,
      AMQP_URL: vhost?.url ?? process.env.AMQP_URL,
      RATE_LIMIT_PER_SECOND: "0",
      ACCOUNTING_DAILY_DEPOSIT_LIMIT: "100000000000",
      ORDERS_RETRY_DELAYS_MS: "100,500,1000",
      ORDERS_SWEEP_INTERVAL: "500ms",
    };
    parent = await startServices([market.register(), registerAccounting, registerOrders], env, {
      logger: createLogger({ name: "chaos", level: "error" }),
    });
    const token = await parent.runtime.issueToken({ sub: "chaos", roles: ["admin", "trader"], portfolios: ["*"] }, 3600);
    clients = createClients({ address: `127.0.0.1:${parent.ports.grpc}`, token, deadlineMs: 30_000 });
    for (const portfolioId of portfolios) {
      await clients.accounting.deposit({ portfolioId, amount: "1000000", idempotencyKey: `fund-${portfolioId}` });
    }
  });

  after(async () => {
    for (const worker of workers) worker.kill("SIGKILL");
    clients?.close();
    await parent?.stop();
    // CHAOS_KEEP_DB=1 keeps the database of a failed run for inspection.
    if (process.env.CHAOS_KEEP_DB !== "1") await testDb?.drop();
    else console.log(`kept ${testDb?.url}`);
    if (process.env.CHAOS_KEEP_DB !== "1") vhost?.drop();
  });

  function startWorker(): Promise<void> {
    const child = fork(path.join(__dirname, "orders-worker-process.ts"), [], {
      env: { ...env, MARKETDATA_ADDRESS: `127.0.0.1:${parent.ports.grpc}` },
      execArgv: ["--import", "tsx"],
      stdio: ["ignore", "ignore", "inherit", "ipc"],
    });
    workers.add(child);
    child.on("exit", () => workers.delete(child));
    return new Promise((resolve, reject) => {
      child.once("message", () => resolve());
      child.once("exit", (code) => reject(new Error(`worker exited early (${code})`)));
    });
  }

  it("loses nothing and applies nothing twice", async () => {
    await Promise.all(Array.from({ length: WORKERS }, startWorker));
    let submitting = true;
    // Chaos: kill a random worker (SIGKILL: no drain, its RabbitMQ connection drops with deliveries unacked) and
    // start a replacement, KILLS times while orders flow; quotes wander so resting limits fill or stay.
    let connectionsCut = 0;
    const chaos = (async () => {
      for (let k = 0; k < KILLS && submitting; k++) {
        await sleep(1500);
        if (k === 1) {
          // The broker drops the main process's connection (its relays and consumers); it must reconnect and lose
          // nothing: unconfirmed publishes are retried from the outbox, unacked deliveries are redelivered.
          for (const pid of await connectionPids(`tradeplane-${process.pid}`)) {
            await run("rabbitmqctl", ["close_connection", pid, "chaos test: connection dropped"]);
            connectionsCut++;
          }
          continue;
        }
        const victim = [...workers][Math.floor(Math.random() * workers.size)];
        victim?.kill("SIGKILL");
        await startWorker();
      }
    })();
    const wander = (async () => {
      while (submitting) {
        for (const symbol of symbols) {
          const mid = 100 + (Math.random() - 0.5) * 2;
          market.setQuote(symbol, { bid: (mid - 0.05).toFixed(2), ask: (mid + 0.05).toFixed(2), last: mid.toFixed(2) });
        }
        await sleep(200);
      }
    })();

    let next = 0;
    let refused = 0;
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        for (;;) {
          const i = next++;
          if (i >= ORDERS) return;
          const kind = i % 5;
          const request = {
            idempotencyKey: `chaos-${i}`,
            portfolioId: portfolios[i % PORTFOLIOS],
            symbol: symbols[Math.floor(i / PORTFOLIOS) % SYMBOLS],
            side: kind === 4 ? Side.SIDE_SELL : Side.SIDE_BUY,
            type: kind === 3 ? OrderType.ORDER_TYPE_LIMIT : OrderType.ORDER_TYPE_MARKET,
            timeInForce: kind === 3 ? TimeInForce.TIME_IN_FORCE_GTC : TimeInForce.TIME_IN_FORCE_DAY,
            quantity: String(1 + (i % 3)),
            limitPrice: kind === 3 ? "99.50" : "",
          };
          // A retry with the same key after a failure is safe: it replays or completes the same order. Under chaos the
          // original may still hold the key (ABORTED) or accounting may be slow (UNAVAILABLE): keep retrying a while.
          const giveUpAt = Date.now() + 120_000;
          for (;;) {
            try {
              await clients.orders.submitOrder(request);
              break;
            } catch (error) {
              const code = (error as { code?: number }).code;
              if (code === 9 /* FAILED_PRECONDITION, e.g. selling more than held */) {
                refused++;
                break;
              }
              if (Date.now() > giveUpAt) throw error;
              await sleep(500);
            }
          }
        }
      }),
    );
    submitting = false;
    await chaos;
    await wander;
    expect(connectionsCut, "the main process's RabbitMQ connection was cut").to.be.greaterThan(0);

    // Settle: no order may stay PENDING_NEW, and accounting must have booked every fill.
    const all = await eventuallyOrders(clients, (orders) =>
      orders.every((o) => o.status !== OrderStatus.ORDER_STATUS_PENDING_NEW),
    );
    expect(all.length).to.equal(ORDERS - refused);
    const resting = all.filter(
      (o) => o.status === OrderStatus.ORDER_STATUS_NEW || o.status === OrderStatus.ORDER_STATUS_PARTIALLY_FILLED,
    );
    for (const order of resting) await clients.orders.cancelOrder({ orderId: order.orderId });

    const implied = new Map<string, number>();
    for (const order of await listAll(clients)) {
      const key = `${order.portfolioId}/${order.securityId}`;
      const sign = order.side === Side.SIDE_BUY ? 1 : -1;
      implied.set(key, (implied.get(key) ?? 0) + sign * Number(order.filledQuantity));
    }
    const deadline = Date.now() + 120_000;
    let mismatches: string[] = [];
    do {
      mismatches = [];
      for (const portfolioId of portfolios) {
        const { balances } = await clients.accounting.listBalances({ portfolioId, pageSize: 1000 });
        for (const securityId of securities.values()) {
          const want = implied.get(`${portfolioId}/${securityId}`) ?? 0;
          const have = Number(balances.find((b) => b.securityId === securityId)?.quantityLong ?? 0);
          if (want !== have) mismatches.push(`${portfolioId}/${securityId}: fills ${want}, accounting ${have}`);
        }
        const cash = balances.find((b) => b.securityId === "");
        if (cash && cash.quantityReserved !== "0") mismatches.push(`${portfolioId}: cash still reserved ${cash.quantityReserved}`);
      }
      if (mismatches.length > 0) await sleep(500);
    } while (mismatches.length > 0 && Date.now() < deadline);
    const dead = await clients.orders.listDeadLetters({ pageSize: 1000 });
    expect(dead.deadLetters.map((d) => `${d.queue}: ${d.reason}`)).to.deep.equal([]);
    expect(mismatches).to.deep.equal([]);

    const audit = await clients.accounting.auditLedger({ portfolioIds: portfolios });
    expect(audit.differences).to.deep.equal([]);
    expect(audit.differenceCount).to.equal("0");
  });
});

async function listAll(clients: TradeplaneClients): Promise<Order[]> {
  const orders: Order[] = [];
  let pageToken = "";
  do {
    const page = await clients.orders.listOrders({ pageSize: 1000, pageToken });
    orders.push(...page.orders);
    pageToken = page.nextPageToken;
  } while (pageToken !== "");
  return orders;
}

async function eventuallyOrders(clients: TradeplaneClients, done: (orders: Order[]) => boolean): Promise<Order[]> {
  const until = Date.now() + 180_000;
  for (;;) {
    const orders = await listAll(clients);
    if (done(orders) || Date.now() > until) return orders;
    await sleep(500);
  }
}
