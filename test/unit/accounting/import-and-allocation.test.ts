import { expect } from "chai";
import Decimal from "decimal.js";
import {
  errorFileName,
  formatErrorFile,
  parseCsvRecord,
  parseImportHeader,
  planImportChunks,
  validateImportRow,
  type ImportRow,
} from "../../../services/accounting/domain/csv-import";
import { importTransactions } from "../../../services/accounting/domain/import-transactions";
import {
  allocationFileName,
  formatAllocationFile,
  newYorkTradeDate,
  validateExecution,
  type ExecutionInput,
} from "../../../services/accounting/domain/allocation";
import { summarize, type ItemResult } from "../../../services/accounting/domain/post-transactions";

const P1 = "aaaaaaaaaaaaaaaaaaaaaaa1";
const P2 = "aaaaaaaaaaaaaaaaaaaaaaa2";
const S = "bbbbbbbbbbbbbbbbbbbbbbbb";

function row(lineNumber: number, over: Partial<ImportRow> = {}): ImportRow {
  return { lineNumber, portfolioId: P1, securityId: S, sourceId: `s${lineNumber}`, transactionType: "BUY", quantity: "1", price: "2", transactionDate: "20250701", ...over };
}

describe("CSV import", () => {
  it("reads headers case-insensitively in any order and names a missing one", () => {
    const header = parseImportHeader(["PRICE", "portfolio_id", "security_id", "source_id", "transaction_type", "quantity", "transaction_date", "extra"]);
    expect(header.price).to.equal(0);
    expect(() => parseImportHeader(["portfolio_id"])).to.throw("missing required header: security_id");
  });

  it("parses quoted fields and rejects malformed records", () => {
    expect(parseCsvRecord('a,"b,c","d""e",')).to.deep.equal(["a", "b,c", 'd"e', ""]);
    expect(parseCsvRecord('a,"b')).to.equal(null);
  });

  it("validates rows with the reference CLI's messages joined by '; '", () => {
    expect(validateImportRow(row(2))).to.equal("");
    expect(validateImportRow(row(2, { portfolioId: "", securityId: "", transactionType: "buy", quantity: "x", transactionDate: "2025-07-01" }))).to.equal(
      "portfolio_id is required; quantity must be a valid decimal number; transaction_date must be in YYYYMMDD format; security_id can only be empty for DEP or WD transaction types",
    );
    expect(validateImportRow(row(2, { transactionType: "XX", price: "" }))).to.equal(
      "invalid transaction_type: must be BUY, SELL, SHORT, COVER, DEP, WD, IN, or OUT; price is required",
    );
  });

  it("sorts by portfolio, date and type, then chunks per portfolio at most N rows", () => {
    const rows = [
      row(2, { portfolioId: P2 }),
      row(3, { transactionDate: "20250702" }),
      row(4, { transactionType: "SELL" }),
      row(5),
      row(6),
    ];
    const chunks = planImportChunks(rows, 2).map((c) => c.map((r) => r.lineNumber));
    expect(chunks).to.deep.equal([[5, 6], [4, 3], [2]]);
  });

  it("names the error file <base>-errors.csv and writes the failed rows with error_message", () => {
    expect(errorFileName("/data/transactions_20250701_103000.csv")).to.equal("transactions_20250701_103000-errors.csv");
    expect(formatErrorFile([{ row: row(3, { sourceId: "a,b" }), errorMessage: "sourceId: source ID must be unique" }])).to.equal(
      "portfolio_id,security_id,source_id,transaction_type,quantity,price,transaction_date,error_message\n" +
        `${P1},${S},"a,b",BUY,1,2,20250701,sourceId: source ID must be unique\n`,
    );
  });

  it("posts only locally valid rows, one batch per portfolio, and reports only the rows that failed", async () => {
    const posted: string[][][] = [];
    const result = await importTransactions(
      {
        now: () => 0,
        concurrency: 1,
        postBatches: async (batches) => {
          posted.push(batches.map((inputs) => inputs.map((i) => i.sourceId)));
          return batches.map((inputs) => {
            const items: ItemResult[] = inputs.map((input, index) =>
              input.sourceId === "s3"
                ? { index, ok: false, reason: "DUPLICATE_SOURCE_ID", errors: [{ field: "sourceId", message: "source ID must be unique", value: "s3" }], existingTransactionId: "1" }
                : { index, ok: true, transaction: {} as never },
            );
            return { items, summary: summarize(items) };
          });
        },
      },
      [row(2, { portfolioId: P2 }), row(3), row(4, { quantity: "" }), row(5)],
    );
    // Two per-portfolio batches, small enough to share one unit of work.
    expect(posted).to.deep.equal([[["s3", "s5"], ["s2"]]]);
    expect(result.successfulRows).to.equal(2);
    expect(result.batches).to.equal(2);
    expect(result.failedRows.map((f) => [f.row.lineNumber, f.errorMessage])).to.deep.equal([
      [3, "sourceId: source ID must be unique"],
      [4, "quantity is required"],
    ]);
  });

  it("posts at most 1,000 rows per unit and a large portfolio's batches one after another, in sorted order", async () => {
    const rows = [
      ...Array.from({ length: 1500 }, (_, i) => row(2 + i, { transactionDate: `202507${String(1 + Math.floor(i / 100)).padStart(2, "0")}` })),
      ...Array.from({ length: 700 }, (_, i) => row(2000 + i, { portfolioId: P2 })),
    ];
    const units: { portfolio: string; sizes: number[]; firstDate: string }[] = [];
    let p1InFlight = 0;
    let overlapped = false;
    const result = await importTransactions(
      {
        now: () => 0,
        concurrency: 4,
        postBatches: async (batches) => {
          const p1 = batches[0][0].portfolioId === P1;
          if (p1 && p1InFlight > 0) overlapped = true;
          if (p1) p1InFlight++;
          units.push({ portfolio: batches[0][0].portfolioId, sizes: batches.map((b) => b.length), firstDate: batches[0][0].transactionDate });
          await new Promise((resolve) => setTimeout(resolve, 5));
          if (p1) p1InFlight--;
          return batches.map((inputs) => {
            const items: ItemResult[] = inputs.map((_, index) => ({ index, ok: true, transaction: {} as never }));
            return { items, summary: summarize(items) };
          });
        },
      },
      rows,
    );
    expect(result).to.deep.include({ successfulRows: 2200, batches: 3 });
    const p1Units = units.filter((u) => u.portfolio === P1);
    expect(p1Units.map((u) => u.sizes)).to.deep.equal([[1000], [500]]);
    expect(p1Units[0].firstDate < p1Units[1].firstDate).to.equal(true);
    expect(units.filter((u) => u.portfolio === P2).map((u) => u.sizes)).to.deep.equal([[700]]);
    expect(overlapped).to.equal(false);
  });
});

describe("allocation", () => {
  it("takes the trade date from the America/New_York calendar date, DST included", () => {
    expect(newYorkTradeDate(new Date("2025-07-01T14:30:00Z"))).to.equal("20250701");
    expect(newYorkTradeDate(new Date("2025-07-01T03:30:00Z"))).to.equal("20250630");
    expect(newYorkTradeDate(new Date("2025-01-15T04:59:00Z"))).to.equal("20250114");
    expect(newYorkTradeDate(new Date("2025-01-15T05:00:00Z"))).to.equal("20250115");
  });

  const input: ExecutionInput = {
    executionServiceId: "17",
    isOpen: false,
    executionStatus: "FULL",
    tradeType: "BUY",
    destination: "ML",
    securityId: S,
    ticker: "IBM",
    portfolioId: P1,
    quantity: "100.5",
    limitPrice: "",
    receivedTimestamp: new Date("2025-07-01T03:00:00Z"),
    sentTimestamp: new Date("2025-07-01T03:30:00Z"),
    lastFillTimestamp: null,
    quantityFilled: "50",
    totalAmount: "",
    averagePrice: "12.345",
  };

  it("validates an execution and reports the reference's 'validation failed' text", () => {
    const ok = validateExecution(input);
    expect(ok.ok && ok.execution.tradeDate).to.equal("20250630");
    const bad = validateExecution({ ...input, tradeType: "SHORT", averagePrice: "0" });
    expect(bad).to.deep.equal({ ok: false, error: "validation failed: tradeType must be one of BUY SELL; averagePrice must be > 0" });
  });

  it("writes the transaction file with AC<id> source ids, the ordered quantity and %.8f numbers", () => {
    const valid = validateExecution(input);
    if (!valid.ok) throw new Error("expected valid");
    const file = formatAllocationFile([{ ...valid.execution, id: "17", readyToSendTimestamp: new Date(), version: 1, quantityFilled: new Decimal(50) }]);
    expect(file).to.equal(
      "portfolio_id,security_id,source_id,transaction_type,quantity,price,transaction_date\n" +
        `${P1},${S},AC17,BUY,100.50000000,12.34500000,20250630\n`,
    );
    expect(allocationFileName(new Date("2025-07-01T10:30:05Z"))).to.equal("transactions_20250701_103005.csv");
  });
});
