// PostTransactions throughput: 1,000-item batches posted through the real gRPC server (validation, portfolio
// locks, balances and tax lots updated, every row stored), against the same-run rate of loading the same rows
// into a plain table with COPY — the fastest a Postgres server takes rows in, so the ratio says how much of the
// database's raw intake the ledger keeps.
//
// Database: real Postgres when DATABASE_URL is set (as in CI), else the embedded one; the line "database: ..."
// says which. Baseline: `psql -c "\copy ... from <csv>"` timed as a process (startup included, amortised over
// all rows) when psql is installed and the server is real; otherwise (psql missing, or the embedded server,
// which does not take COPY from psql) one `insert ... select from unnest(...)` of the same rows. The JSON result
// names the baseline used.
//
// Target (issue 4): PostTransactions rows/s ≥ 0.05 × COPY rows/s.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import * as path from "node:path";
import { Client } from "pg";
import { createClients } from "../../clients/node";
import { TransactionType, type TransactionInput } from "../../generated/tradeplane/accounting/v1/accounting";
import { connectionSettings, createTestDatabase } from "../../services/platform/database";
import { issueToken } from "../../services/platform/auth";
import { backendCpuMs, backendCpuSpentMs, cpuMsOf } from "./support/process-cpu";
import { startServiceProcess } from "./support/service-process";
import { percentile, report } from "./support/report";

const SECRET = "bench-secret-0123456789abcdef0123456789";
const BATCH_SIZE = 1000;
const BATCHES = Number(process.env.ACCOUNTING_BENCH_BATCHES ?? 40);
const WARMUP_BATCHES = 3;
/** Batches in flight at once (each touches its own portfolios, as independent callers would). */
const CONCURRENCY = 4;
const PORTFOLIOS_PER_BATCH = 20;
const SECURITIES = 25;
const COPY_RUNS = 3;

const id24 = (prefix: string): string => (prefix + randomBytes(12).toString("hex")).slice(0, 24);

/** One batch: per portfolio a deposit, buys over a few securities, then some sells (all balances move). */
function makeBatch(tag: string, securities: string[]): TransactionInput[] {
  const items: TransactionInput[] = [];
  const perPortfolio = BATCH_SIZE / PORTFOLIOS_PER_BATCH;
  for (let p = 0; p < PORTFOLIOS_PER_BATCH; p++) {
    const portfolioId = id24(`p${tag}`);
    items.push({ portfolioId, securityId: "", sourceId: `${tag}-${p}-dep`, transactionType: TransactionType.TRANSACTION_TYPE_DEP, quantity: "1000000", price: "1", transactionDate: "20250102" });
    for (let i = 1; i < perPortfolio; i++) {
      const sell = i % 4 === 0;
      items.push({
        portfolioId,
        securityId: securities[(p + i) % SECURITIES],
        sourceId: `${tag}-${p}-${i}`,
        transactionType: sell ? TransactionType.TRANSACTION_TYPE_SELL : TransactionType.TRANSACTION_TYPE_BUY,
        quantity: sell ? "3" : String(10 + (i % 7)),
        price: `${50 + (i % 13)}.25`,
        transactionDate: `202501${String(3 + (i % 20)).padStart(2, "0")}`,
      });
    }
  }
  return items;
}

/** Loads the rows with COPY (psql \copy) or, without psql, one unnest insert; returns rows/s and the method. */
async function copyBaseline(url: string, rows: TransactionInput[], tryPsql: boolean): Promise<{ rowsPerSecond: number; method: string }> {
  const client = new Client(connectionSettings(url));
  await client.connect();
  const dir = mkdtempSync(path.join(tmpdir(), "tp-bench-copy-"));
  try {
    // The same columns and types as the ledger's transactions table, without its indexes and checks.
    const create = (name: string) =>
      client.query(
        `create table ${name} (portfolio_id text, security_id text, source_id varchar(50), transaction_type text,
           quantity numeric(18,8), price numeric(18,8), transaction_date date)`,
      );
    const typeName = (t: TransactionType) => TransactionType[t].replace("TRANSACTION_TYPE_", "");
    const file = path.join(dir, "rows.csv");
    writeFileSync(
      file,
      rows.map((r) => [r.portfolioId, r.securityId, r.sourceId, typeName(r.transactionType), r.quantity, r.price, r.transactionDate].join(",")).join("\n") + "\n",
    );
    // Never psql against the embedded server: its one shared session would be left in COPY mode on a failure.
    if (tryPsql) {
      try {
        return await psqlCopyRate(url, file, rows.length, create, client);
      } catch (error) {
        console.log(`  psql \\copy unavailable (${(error as Error).message.split("\n")[0]}): baseline is one unnest insert`);
      }
    }
    await create("bench_unnest");
    const col = (f: (r: TransactionInput) => string) => rows.map(f);
    const started = performance.now();
    await client.query(
      `insert into bench_unnest select * from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::numeric[], $6::numeric[], $7::date[])`,
      [
        col((r) => r.portfolioId),
        rows.map((r) => r.securityId || null),
        col((r) => r.sourceId),
        rows.map((r) => typeName(r.transactionType)),
        col((r) => r.quantity),
        col((r) => r.price),
        col((r) => r.transactionDate),
      ],
    );
    return { rowsPerSecond: rows.length / ((performance.now() - started) / 1000), method: "one insert ... select from unnest(...)" };
  } finally {
    await client.end();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The median of three psql \\copy loads into fresh tables (one run of a few tenths of a second is easily
 * disturbed on a shared two-core machine), timed as processes.
 */
async function psqlCopyRate(
  url: string,
  file: string,
  rowCount: number,
  create: (table: string) => Promise<unknown>,
  client: Client,
): Promise<{ rowsPerSecond: number; method: string }> {
  const rates: number[] = [];
  for (let run = 0; run < COPY_RUNS; run++) {
    const table = `bench_copy_${run}`;
    await create(table);
    const started = performance.now();
    await promisify(execFile)("psql", [url, "-v", "ON_ERROR_STOP=1", "-q", "-c", `\\copy ${table} from '${file}' with (format csv, null '')`], { timeout: 60_000 });
    const seconds = (performance.now() - started) / 1000;
    const { rows } = await client.query(`select count(*)::int as n from ${table}`);
    if (rows[0].n !== rowCount) throw new Error(`COPY stored ${rows[0].n} of ${rowCount} rows`);
    rates.push(rowCount / seconds);
  }
  return { rowsPerSecond: percentile(rates, 50), method: `psql \\copy from a CSV file (process time, median of ${COPY_RUNS})` };
}

async function main(): Promise<void> {
  const real = Boolean(process.env.DATABASE_URL);
  console.log(`  database: ${real ? "real PostgreSQL (DATABASE_URL)" : "embedded PGlite (DATABASE_URL not set)"}`);
  const db = await createTestDatabase();
  const env: NodeJS.ProcessEnv = { ...process.env, GRPC_PORT: "0", HTTP_PORT: "0", JWT_SECRET: SECRET, DATABASE_URL: db.url, RATE_LIMIT_PER_SECOND: "0" };
  // The service runs in its own process, so building and decoding the 1,000-item requests here is not charged to it.
  // BENCH_SERVICE_NODE_OPTIONS is the service process's NODE_OPTIONS, e.g. "--import ./test/bench/support/cpu-profile.mjs"
  // to profile it alone.
  if (process.env.BENCH_SERVICE_NODE_OPTIONS) env.NODE_OPTIONS = process.env.BENCH_SERVICE_NODE_OPTIONS;
  const running = await startServiceProcess(["accounting"], env);
  const database = new URL(db.url).pathname.slice(1);
  const admin = real ? new Client(connectionSettings(db.url)) : null;
  await admin?.connect();
  const token = await issueToken({ secret: SECRET, issuer: "tradeplane", audience: "tradeplane" }, { sub: "bench", roles: ["admin"], portfolios: ["*"] }, 3600);
  const clients = createClients({ address: `127.0.0.1:${running.grpcPort}`, token, deadlineMs: 120_000 });
  try {
    const securities = Array.from({ length: SECURITIES }, (_, i) => id24(`s${i}x`));
    const run = randomBytes(3).toString("hex");
    const batches = Array.from({ length: BATCHES + WARMUP_BATCHES }, (_, b) => makeBatch(`${run}${b}`, securities));

    for (const batch of batches.slice(0, WARMUP_BATCHES)) await clients.accounting.postTransactions({ transactions: batch });

    const measured = batches.slice(WARMUP_BATCHES);
    const latencies: number[] = [];
    let next = 0;
    let failed = 0;
    const serviceCpuBefore = cpuMsOf(running.child.pid!);
    const clientCpuBefore = process.cpuUsage();
    const backendsBefore = admin ? await backendCpuMs(admin, database) : new Map<number, number>();
    const started = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < measured.length) {
          const batch = measured[next++];
          const t0 = performance.now();
          const response = await clients.accounting.postTransactions({ transactions: batch });
          latencies.push(performance.now() - t0);
          failed += response.failed.length;
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    const serviceCpuMsPerBatch = (cpuMsOf(running.child.pid!) - serviceCpuBefore) / measured.length;
    const clientCpu = process.cpuUsage(clientCpuBefore);
    const clientCpuMsPerBatch = (clientCpu.user + clientCpu.system) / 1000 / measured.length;
    const postgresCpuMsPerBatch = admin
      ? backendCpuSpentMs(backendsBefore, await backendCpuMs(admin, database)) / measured.length
      : null;
    if (failed > 0) throw new Error(`${failed} items failed; the benchmark posts only valid rows`);
    const rows = measured.length * BATCH_SIZE;
    const grpcRowsPerSecond = rows / seconds;

    const baseline = await copyBaseline(db.url, measured.flat(), real);
    report({
      name: "accounting-post-transactions",
      checks: [{ label: `PostTransactions rows/s vs ${baseline.method.startsWith("psql") ? "COPY" : "unnest insert"} rows/s`, value: grpcRowsPerSecond / baseline.rowsPerSecond, target: 0.05, kind: "min" }],
      measurements: {
        database: real ? "postgres" : "embedded",
        // The machine is shared: the 1-minute load average at the end says how contended the run was.
        loadAverage1m: loadavg()[0],
        baseline: baseline.method,
        baselineRowsPerSecond: baseline.rowsPerSecond,
        batches: measured.length,
        batchSize: BATCH_SIZE,
        concurrency: CONCURRENCY,
        serverProcess: "separate (test/bench/support/service-process.ts)",
        postTransactionsRowsPerSecond: grpcRowsPerSecond,
        // CPU spent per 1,000-item batch: steadier than the rates when another benchmark shares the machine.
        serviceCpuMsPerBatch,
        postgresBackendCpuMsPerBatch: postgresCpuMsPerBatch,
        // The load generator shares the machine too (encoding requests, decoding 1,000-item responses).
        clientCpuMsPerBatch,
        batchLatencyMs: { p50: percentile(latencies, 50), p90: percentile(latencies, 90), p99: percentile(latencies, 99) },
      },
    });
    console.log(`  PostTransactions: ${grpcRowsPerSecond.toFixed(0)} rows/s; baseline (${baseline.method}): ${baseline.rowsPerSecond.toFixed(0)} rows/s`);
    const pgCpu = postgresCpuMsPerBatch === null ? "n/a (embedded, in this process)" : `${postgresCpuMsPerBatch.toFixed(1)} ms`;
    console.log(`  CPU per ${BATCH_SIZE}-item batch: service process ${serviceCpuMsPerBatch.toFixed(1)} ms, Postgres backends ${pgCpu}, this client ${clientCpuMsPerBatch.toFixed(1)} ms; load average ${loadavg()[0].toFixed(2)}`);
  } finally {
    clients.close();
    await admin?.end();
    await running.stop();
    await db.drop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
