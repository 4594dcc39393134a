import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { expect } from "chai";
import { createChannel, createClientFactory, Metadata, Status } from "nice-grpc";
import { errorDetailsClientMiddleware, ErrorInfo, RichClientError } from "nice-grpc-error-details";
import Decimal from "decimal.js";
import { TransactionType } from "../../../generated/tradeplane/accounting/v1/accounting";
import { AllocationServiceDefinition } from "../../../generated/tradeplane/accounting/v1/allocation_service";
import { Side } from "../../../generated/tradeplane/common/v1/common";
import { runImport } from "../../../services/accounting/cli/import";
import { encodeFillEvent, FILL_EVENT_ROUTING_KEY, FILL_EVENT_SCHEMA_VERSION } from "../../../services/accounting/domain/fill-event";
import { register } from "../../../services/accounting/main";
import { startSystem, type TestSystem } from "../../support/system";

const id24 = () => randomBytes(12).toString("hex");
const HEADER = "portfolio_id,security_id,source_id,transaction_type,quantity,price,transaction_date";

describe("accounting import, allocation and audit", () => {
  let system: TestSystem;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "tp-accounting-"));
    system = await startSystem([register], { env: { ALLOCATION_OUTPUT_DIR: path.join(dir, "allocation") } });
  });
  after(async () => {
    await system?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("the CLI imports a file, writes only the failed rows to <base>-errors.csv and keeps the input", async () => {
    const [p1, p2, s] = [id24(), id24(), id24()];
    const file = path.join(dir, "transactions.csv");
    writeFileSync(
      file,
      [
        "PRICE,portfolio_id,security_id,source_id,transaction_type,quantity,transaction_date",
        `1,${p2},,cli-a-${p2},DEP,1000,20250701`,
        `50,${p1},${s},cli-b-${p1},buy,10,20250702`,
        `1,${p1},,cli-c-${p1},DEP,2000,20250701`,
        `1,${p1},,cli-c-${p1},DEP,5,20250703`,
        `1,${p1},,cli-d-${p1},DEP,5,2025-07-03`,
        `1,${p1}`,
      ].join("\n") + "\n",
    );
    const lines: string[] = [];
    const progress: string[] = [];
    const outcome = await runImport({
      file,
      outputDir: path.join(dir, "out"),
      address: system.address,
      token: await system.token({ sub: "ops", roles: ["admin"], portfolios: ["*"] }),
      deadlineMs: 30_000,
      progress: (line) => progress.push(line),
      out: (line) => lines.push(line),
    });
    expect(outcome).to.deep.include({ totalRows: 6, successfulRows: 3, failedRows: 3, batches: 2 });
    expect(outcome.errorFile).to.equal(path.join(dir, "out", "transactions-errors.csv"));
    expect(readFileSync(outcome.errorFile as string, "utf8").split("\n")).to.deep.equal([
      `${HEADER},error_message`,
      `${p1},,cli-c-${p1},DEP,5,1,20250703,sourceId: source ID must be unique`,
      `${p1},,cli-d-${p1},DEP,5,1,2025-07-03,transaction_date must be in YYYYMMDD format`,
      `${p1},,,,,1,,"insufficient fields: expected 7, got 2"`,
      "",
    ]);
    expect(existsSync(file)).to.equal(true);
    expect(progress[0]).to.equal(`\r[${"#".repeat(30)}] 5/5 rows sent`);
    expect(lines[0]).to.equal("=== Processing Results ===");
    expect(lines).to.include.members(["Total Rows:  6", "Success:     3", "Errors:      3"]);
    const cash = await system.clients.accounting.getBalance({ id: "0", portfolioId: p1, securityId: "" });
    expect(cash.balance?.quantityLong).to.equal("1500");
  });

  it("records executions with the New York trade date and sends them as a transaction file", async () => {
    const [p, s] = [id24(), id24()];
    const serviceId = String(Date.now());
    const execution = {
      executionServiceId: serviceId,
      isOpen: false,
      executionStatus: "FULL",
      tradeType: Side.SIDE_BUY,
      destination: "ML",
      securityId: s,
      ticker: "IBM",
      portfolioId: p,
      quantity: "100.5",
      limitPrice: "",
      receivedTimestamp: new Date("2025-07-01T03:00:00Z"),
      sentTimestamp: new Date("2025-07-01T03:30:00Z"),
      quantityFilled: "100.5",
      totalAmount: "",
      averagePrice: "12.345",
    };
    const recorded = await system.clients.allocation.recordExecutions({
      executions: [execution, { ...execution, executionServiceId: String(Number(serviceId) + 1), isOpen: true }, execution],
    });
    expect(recorded).to.deep.include({ processedCount: 1, skippedCount: 2, errorCount: 0 });
    expect(recorded.results.map((r) => r.error)).to.deep.equal(["", "execution is still open", "execution already exists"]);
    const stored = await system.clients.allocation.getExecution({ id: recorded.results[0].executionId });
    expect(stored.execution?.tradeDate).to.equal("20250630");

    const sent = await system.clients.allocation.sendExecutions({});
    expect(sent.fileName).to.match(/^transactions_\d{8}_\d{6}\.csv$/);
    expect(sent.processedCount).to.be.greaterThan(0);
    const content = readFileSync(path.join(dir, "allocation", sent.fileName), "utf8");
    expect(content.split("\n")[0]).to.equal(HEADER);
    expect(content).to.include(`${p},${s},AC${recorded.results[0].executionId},BUY,100.50000000,12.34500000,20250630\n`);
    const position = await system.clients.accounting.getBalance({ id: "0", portfolioId: p, securityId: s });
    expect(position.balance?.quantityLong).to.equal("100.5");

    const again = await system.clients.allocation.sendExecutions({});
    expect(again).to.deep.include({ processedCount: 0, fileName: "", message: "No executions to process" });
  });

  it("records at most 100 executions per call, requires each one's portfolio id, and lists them by portfolio", async () => {
    const p = id24();
    const base = Date.now() * 10 + 5_000;
    const execution = (i: number, portfolioId = p) => ({
      executionServiceId: String(base + i),
      isOpen: false,
      executionStatus: "FULL",
      tradeType: Side.SIDE_SELL,
      destination: "ML",
      securityId: id24(),
      ticker: "IBM",
      portfolioId,
      quantity: "5",
      limitPrice: "",
      receivedTimestamp: new Date("2025-07-03T14:00:00Z"),
      sentTimestamp: new Date("2025-07-03T14:30:00Z"),
      quantityFilled: "5",
      totalAmount: "",
      averagePrice: "30",
    });
    const allocation = system.clients.allocation;
    let tooMany: unknown;
    await allocation.recordExecutions({ executions: Array.from({ length: 101 }, (_, i) => execution(i)) }).catch((error: unknown) => (tooMany = error));
    expect((tooMany as { code?: number })?.code).to.equal(Status.INVALID_ARGUMENT);

    const recorded = await allocation.recordExecutions({ executions: [execution(200), execution(201, "")] });
    expect(recorded).to.deep.include({ processedCount: 1, errorCount: 1 });
    expect(recorded.results[1].error).to.include("portfolioId");
    const listed = await allocation.listExecutions({ portfolioId: p, securityId: "", tradeDate: "", pageSize: 10, pageToken: "" });
    expect(listed.executions.map((e) => e.executionServiceId)).to.deep.equal([String(base + 200)]);
    expect(listed.executions[0].tradeDate).to.equal("20250703");
  });

  it("refuses a send while another is in progress with ABORTED BATCH_IN_PROGRESS: of two concurrent sends one wins", async () => {
    const base = Date.now() * 10;
    const executions = Array.from({ length: 20 }, (_, i) => ({
      executionServiceId: String(base + i),
      isOpen: false,
      executionStatus: "FULL",
      tradeType: Side.SIDE_BUY,
      destination: "ML",
      securityId: id24(),
      ticker: "IBM",
      portfolioId: id24(),
      quantity: "10",
      limitPrice: "",
      receivedTimestamp: new Date("2025-07-02T14:00:00Z"),
      sentTimestamp: new Date("2025-07-02T14:30:00Z"),
      quantityFilled: "10",
      totalAmount: "",
      averagePrice: "20",
    }));
    await system.clients.allocation.recordExecutions({ executions });

    const token = await system.token({ sub: "ops", roles: ["admin"], portfolios: ["*"] });
    const channel = createChannel(system.address);
    try {
      const allocation = createClientFactory()
        .use(errorDetailsClientMiddleware)
        .create(AllocationServiceDefinition, channel, { "*": { metadata: Metadata({ authorization: `Bearer ${token}` }) } });
      const outcomes = await Promise.allSettled([allocation.sendExecutions({}), allocation.sendExecutions({})]);
      const won = outcomes.filter((o) => o.status === "fulfilled");
      const lost = outcomes.flatMap((o) => (o.status === "rejected" ? [o.reason as unknown] : []));
      expect(won).to.have.length(1);
      expect(lost).to.have.length(1);
      const error = lost[0] as RichClientError;
      expect(error).to.be.instanceOf(RichClientError);
      expect(error.code).to.equal(Status.ABORTED);
      expect(error.extra.find((d): d is ErrorInfo => d.$type === ErrorInfo.$type)?.reason).to.equal("BATCH_IN_PROGRESS");
      const winner = (won[0] as PromiseFulfilledResult<{ processedCount: number }>).value;
      expect(winner.processedCount).to.be.at.least(executions.length);

      // Once the winner has finished, the next send may claim the following window.
      const next = await allocation.sendExecutions({});
      expect(next.message).to.equal("No executions to process");
    } finally {
      channel.close();
    }
  });

  it("audits zero differences after a random workload of posts, imports, deposits and fills", async () => {
    const portfolios = Array.from({ length: 4 }, id24);
    const securities = Array.from({ length: 5 }, id24);
    let seed = 42;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)];
    const types = [1, 2, 3, 4, 5, 6, 7, 8] as TransactionType[];
    const a = system.clients.accounting;
    for (let batch = 0; batch < 4; batch++) {
      const transactions = Array.from({ length: 500 }, (_, i) => {
        const type = pick(types);
        const cash = type === TransactionType.TRANSACTION_TYPE_DEP || type === TransactionType.TRANSACTION_TYPE_WD;
        return {
          portfolioId: pick(portfolios),
          securityId: cash ? "" : pick(securities),
          sourceId: `rw-${batch}-${i}-${portfolios[0]}`,
          transactionType: type,
          quantity: new Decimal(Math.floor(rand() * 4000) - 1000).div(100).plus("0.01").toString(),
          price: cash ? "1" : new Decimal(Math.floor(rand() * 100000) + 1).div(1000).toString(),
          transactionDate: "20250701",
        };
      });
      const result = await a.postTransactions({ transactions });
      expect(result.summary?.totalRequested).to.equal(500);
    }
    const rows = Array.from({ length: 300 }, (_, i) => `${pick(portfolios)},${pick(securities)},rwi-${i}-${portfolios[0]},${pick(["BUY", "SELL", "SHORT", "COVER"])},${1 + Math.floor(rand() * 50)},${(1 + rand() * 99).toFixed(4)},2025070${1 + Math.floor(rand() * 9)}`);
    const file = path.join(dir, "random.csv");
    writeFileSync(file, [HEADER, ...rows].join("\n") + "\n");
    const imported = await runImport({ file, outputDir: dir, address: system.address, token: await system.token({ sub: "ops", roles: ["admin"], portfolios: ["*"] }), deadlineMs: 30_000, progress: () => undefined, out: () => undefined });
    expect(imported.successfulRows).to.equal(300);
    for (const [i, p] of portfolios.entries()) {
      await a.deposit({ portfolioId: p, amount: "9999.99", idempotencyKey: `rwd-${i}-${p}`, transactionDate: "" });
      // The transaction API allows negative cash; top up through it so the order path has something to hold.
      const cash = await a.getBalance({ id: "0", portfolioId: p, securityId: "" });
      const shortfall = new Decimal(1000).minus(cash.balance?.quantityAvailable ?? "0");
      if (shortfall.greaterThan(0)) {
        await a.postTransactions({
          transactions: [{ portfolioId: p, securityId: "", sourceId: `rwt-${p}`, transactionType: TransactionType.TRANSACTION_TYPE_DEP, quantity: shortfall.toFixed(8), price: "1", transactionDate: "20250701" }],
        });
      }
      await a.createReservation({ portfolioId: p, orderId: `rwo-${p}`, securityId: "", amount: "500" });
      const fill = encodeFillEvent({
        fillId: `rwf-${p}`,
        orderId: `rwo-${p}`,
        portfolioId: p,
        securityId: securities[0],
        symbol: "RW",
        side: "BUY",
        quantity: new Decimal(3),
        price: new Decimal("123.45"),
        fee: new Decimal("0.5"),
        executedAt: new Date(),
        reservationId: `rwo-${p}`,
      });
      await system.runtime.broker.publish({ routingKey: FILL_EVENT_ROUTING_KEY, messageId: fill.fill_id, schemaVersion: FILL_EVENT_SCHEMA_VERSION, body: JSON.stringify(fill) });
    }
    const deadline = Date.now() + 10_000;
    while ((await a.listTransactions({ portfolioIds: undefined, sourceId: `rwf-${portfolios[3]}` } as never)).totalSize === 0) {
      if (Date.now() > deadline) throw new Error("fills were not posted");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const report = await a.auditLedger({ portfolioIds: portfolios });
    expect(report.differences).to.deep.equal([]);
    expect(Number(report.transactionsReplayed)).to.be.greaterThan(2000);
    expect(Number(report.lotsChecked)).to.be.greaterThan(0);
  });
});
