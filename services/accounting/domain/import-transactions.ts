import { formatFieldErrors, MAX_IMPORT_CHUNK, planImportChunks, toTransactionInput, validateImportRow, type FailedImportRow, type ImportRow } from "./csv-import";
import type { BatchResult } from "./post-transactions";
import type { TransactionInput } from "./validate-transaction";

/** Result of an import: counts and every failed row with the message for the error file. */
export interface ImportResult {
  totalRows: number;
  successfulRows: number;
  failedRows: FailedImportRow[];
  batches: number;
  durationMs: number;
}

export interface ImportDeps {
  /**
   * PostTransactions for several batches in one unit of work (postTransactionBatches), so an import behaves
   * exactly like posting the same per-portfolio batches one after another.
   */
  postBatches: (batches: TransactionInput[][]) => Promise<BatchResult[]>;
  now: () => number;
  /** Units of work posted at once; a portfolio's units still run one after another, in file order. */
  concurrency: number;
  /** Called after each unit with the rows done so far, for a progress bar. */
  onProgress?: (doneRows: number, totalRows: number) => void;
}

/**
 * The spec's file algorithm (§1.10): check each row locally with the CLI's messages, sort the valid rows by
 * portfolio, date and type, cut them into batches of one portfolio and at most 1,000 rows, and collect only
 * the rows that really failed (the reference CLI treated any partial failure as a whole-batch failure).
 *
 * Most portfolios in a file have far fewer than 1,000 rows, and a database transaction per tiny batch would
 * make a 100,000-row file cost thousands of commits; so consecutive batches are posted together, up to 1,000
 * rows per unit of work (the size of one PostTransactions request), each still with its own results.
 */
export async function importTransactions(deps: ImportDeps, rows: readonly ImportRow[]): Promise<ImportResult> {
  const started = deps.now();
  const failedRows: FailedImportRow[] = [];
  const valid: ImportRow[] = [];
  for (const row of rows) {
    const error = validateImportRow(row);
    if (error) failedRows.push({ row, errorMessage: error });
    else valid.push(row);
  }
  const chunks = planImportChunks(valid);
  const units = packChunks(chunks, MAX_IMPORT_CHUNK);
  let successfulRows = 0;
  let doneRows = failedRows.length;
  deps.onProgress?.(doneRows, rows.length);

  // A portfolio with more than 1,000 rows spans consecutive units; a unit that continues the previous unit's
  // last portfolio waits for it, so that portfolio's rows are still posted in sorted order.
  const finished: Promise<void>[] = [];
  const portfolioOf = (chunk: ImportRow[]) => chunk[0].portfolioId.trim();
  let nextUnit = 0;
  const worker = async () => {
    while (nextUnit < units.length) {
      const u = nextUnit++;
      const unit = units[u];
      let markDone = () => {};
      finished[u] = new Promise<void>((resolve) => (markDone = resolve));
      try {
        const previous = units[u - 1];
        if (previous && portfolioOf(previous[previous.length - 1]) === portfolioOf(unit[0])) await finished[u - 1];
        const results = await deps.postBatches(unit.map((chunk) => chunk.map(toTransactionInput)));
        unit.forEach((chunk, c) => {
          for (const item of results[c].items) {
            if (item.ok) successfulRows++;
            else failedRows.push({ row: chunk[item.index], errorMessage: formatFieldErrors(item.errors) });
          }
          doneRows += chunk.length;
        });
        deps.onProgress?.(doneRows, rows.length);
      } finally {
        markDone();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(deps.concurrency, units.length)) }, worker));
  failedRows.sort((a, b) => a.row.lineNumber - b.row.lineNumber);
  return { totalRows: rows.length, successfulRows, failedRows, batches: chunks.length, durationMs: deps.now() - started };
}

/** Groups consecutive chunks into units of at most maxRows rows, keeping their order. */
export function packChunks(chunks: ImportRow[][], maxRows: number): ImportRow[][][] {
  const units: ImportRow[][][] = [];
  let current: ImportRow[][] = [];
  let size = 0;
  for (const chunk of chunks) {
    if (current.length > 0 && size + chunk.length > maxRows) {
      units.push(current);
      current = [];
      size = 0;
    }
    current.push(chunk);
    size += chunk.length;
  }
  if (current.length > 0) units.push(current);
  return units;
}
