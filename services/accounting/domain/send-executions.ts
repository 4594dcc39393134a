import { allocationFileName, formatAllocationFile, type StoredExecution } from "./allocation";
import { errorFileName, formatErrorFile } from "./csv-import";
import type { ImportResult } from "./import-transactions";

export interface SendDeps {
  /**
   * Records a batch [previous start, now) in the batch history. AccountingError BATCH_IN_PROGRESS while a
   * send that started after staleBefore has not completed, or when a concurrent claim won the race.
   */
  claimWindow(now: Date, staleBefore: Date): Promise<{ batchId: string; windowStart: Date }>;
  /** Marks the batch finished, so the next send may claim its window. */
  completeWindow(batchId: string): Promise<void>;
  executionsInWindow(start: Date, end: Date): Promise<StoredExecution[]>;
  writeFile(fileName: string, content: string): Promise<void>;
  deleteFile(fileName: string): Promise<void>;
  /** Imports a file from the output directory through the CLI's path (read, validate, sort, chunk, post). */
  importFile(fileName: string): Promise<ImportResult>;
  now: () => Date;
  cleanupFiles: boolean;
}

/**
 * A send still unfinished after this long is presumed dead (its process stopped mid-import) and no longer
 * blocks the next one; a live send is expected to finish well within it.
 */
export const SEND_PRESUMED_DEAD_AFTER_MS = 15 * 60_000;

export interface SendResult {
  batchId: string;
  windowStart: Date;
  windowEnd: Date;
  processedCount: number;
  fileName: string;
  importResult: ImportResult | null;
  errorFileName: string;
  message: string;
}

/**
 * SendExecutions (§2.6): claim the window (refused with BATCH_IN_PROGRESS while another send runs), write `transactions_YYYYMMDD_HHMMSS.csv`, import it, write the
 * `<base>-errors.csv` of rows that failed, keep the files unless cleanup is configured. The window advances
 * even if the import fails (as the reference); accounting's source-id uniqueness makes any manual re-send safe.
 */
export async function sendExecutions(deps: SendDeps): Promise<SendResult> {
  const now = deps.now();
  const { batchId, windowStart } = await deps.claimWindow(now, new Date(now.getTime() - SEND_PRESUMED_DEAD_AFTER_MS));
  try {
    return await sendWindow(deps, batchId, windowStart, now);
  } finally {
    await deps.completeWindow(batchId);
  }
}

async function sendWindow(deps: SendDeps, batchId: string, windowStart: Date, now: Date): Promise<SendResult> {
  const executions = await deps.executionsInWindow(windowStart, now);
  const base = { batchId, windowStart, windowEnd: now };
  if (executions.length === 0) {
    return { ...base, processedCount: 0, fileName: "", importResult: null, errorFileName: "", message: "No executions to process" };
  }
  const fileName = allocationFileName(now);
  await deps.writeFile(fileName, formatAllocationFile(executions));
  const importResult = await deps.importFile(fileName);
  let errors = "";
  if (importResult.failedRows.length > 0) {
    errors = errorFileName(fileName);
    await deps.writeFile(errors, formatErrorFile(importResult.failedRows));
  }
  if (deps.cleanupFiles) await deps.deleteFile(fileName);
  return {
    ...base,
    processedCount: executions.length,
    fileName,
    importResult,
    errorFileName: errors,
    message: "Portfolio accounting import completed",
  };
}
