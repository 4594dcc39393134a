import { formatFieldErrors, planImportChunks, toTransactionInput, validateImportRow, type FailedImportRow, type ImportRow } from "./csv-import";
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
  /** PostTransactions itself, so an import behaves exactly like posting the same rows. */
  postTransactions: (inputs: TransactionInput[]) => Promise<BatchResult>;
  now: () => number;
  /** Chunks of different portfolios posted at once; they never contend for the same lock. */
  concurrency: number;
  /** Called after each chunk with the rows done so far, for a progress bar. */
  onProgress?: (doneRows: number, totalRows: number) => void;
}

/**
 * The spec's file algorithm (§1.10): check each row locally with the CLI's messages, sort the valid rows by
 * portfolio, date and type, post them one portfolio at a time in chunks of at most 1,000, and collect only
 * the rows that really failed (the reference CLI treated any partial failure as a whole-batch failure).
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
  let successfulRows = 0;
  let doneRows = failedRows.length;
  deps.onProgress?.(doneRows, rows.length);

  let nextChunk = 0;
  const worker = async () => {
    while (nextChunk < chunks.length) {
      const chunk = chunks[nextChunk++];
      const result = await deps.postTransactions(chunk.map(toTransactionInput));
      for (const item of result.items) {
        if (item.ok) successfulRows++;
        else failedRows.push({ row: chunk[item.index], errorMessage: formatFieldErrors(item.errors) });
      }
      doneRows += chunk.length;
      deps.onProgress?.(doneRows, rows.length);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(deps.concurrency, chunks.length)) }, worker));
  failedRows.sort((a, b) => a.row.lineNumber - b.row.lineNumber);
  return { totalRows: rows.length, successfulRows, failedRows, batches: chunks.length, durationMs: deps.now() - started };
}
