// `npm run import -- --file transactions.csv --output-dir out [--address host:port] [--token JWT]`
//
// The GlobeCo CLI's `process` command over gRPC: reads the CSV (header checked case-insensitively, any column
// order), streams its rows to ImportTransactions (the server validates, sorts by portfolio, date and type, and
// posts each portfolio in chunks of at most 1,000), shows a progress bar, writes the rows that failed to
// `<output-dir>/<base>-errors.csv` and prints a summary. The input file is never deleted (the reference CLI
// deleted it). Exit code 0 when the run completed, even with failed rows; 1 for a fatal problem.
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import * as path from "node:path";
import { createClients } from "../../../clients/node";
import type { ImportTransactionsRequest } from "../../../generated/tradeplane/accounting/v1/accounting_service";
import { readTransactionCsv } from "../adapters/csv-file";
import { errorFileName, formatErrorFile, type FailedImportRow } from "../domain/csv-import";
import { fromWireImportRow, toWireImportRow } from "../grpc/accounting-wire";

/** Rows per streamed message (the server accepts at most 1,000). */
const ROWS_PER_MESSAGE = 1000;

export interface ImportOptions {
  file: string;
  outputDir: string;
  address: string;
  token: string;
  deadlineMs: number;
  /** Where progress and the summary go (stderr and stdout of the process by default). */
  progress?: (line: string) => void;
  out?: (line: string) => void;
}

export interface ImportOutcome {
  totalRows: number;
  successfulRows: number;
  failedRows: number;
  batches: number;
  errorFile: string | null;
  durationMs: number;
}

/** Runs one import; throws for a fatal problem (missing file, wrong extension, missing header). */
export async function runImport(options: ImportOptions): Promise<ImportOutcome> {
  const started = Date.now();
  if (!existsSync(options.file)) throw new Error(`file not found: ${options.file}`);
  if (path.extname(options.file).toLowerCase() !== ".csv") throw new Error("unsupported file format: only .csv files are accepted");
  const content = await readTransactionCsv(options.file);
  const progress = options.progress ?? ((line: string) => process.stderr.write(line));
  const out = options.out ?? ((line: string) => process.stdout.write(line + "\n"));
  const total = content.rows.length;

  const clients = createClients({ address: options.address, token: options.token, deadlineMs: options.deadlineMs });
  try {
    async function* messages(): AsyncIterable<ImportTransactionsRequest> {
      for (let sent = 0; sent < total; sent += ROWS_PER_MESSAGE) {
        const rows = content.rows.slice(sent, sent + ROWS_PER_MESSAGE).map(toWireImportRow);
        yield { fileName: path.basename(options.file), rows };
        progress(progressBar(Math.min(sent + ROWS_PER_MESSAGE, total), total));
      }
    }
    const response = await clients.accounting.importTransactions(messages());
    progress("\n");
    const failed: FailedImportRow[] = [
      ...content.failed,
      ...response.failedRows.map((f) => ({ row: fromWireImportRow(f.row ?? ({} as never)), errorMessage: f.errorMessage })),
    ];
    let errorFile: string | null = null;
    if (failed.length > 0) {
      await mkdir(options.outputDir, { recursive: true });
      errorFile = path.join(options.outputDir, errorFileName(options.file));
      await writeFile(errorFile, formatErrorFile(failed), "utf8");
    }
    const summary = response.summary;
    const outcome: ImportOutcome = {
      totalRows: total + content.failed.length,
      successfulRows: Number(summary?.successfulRows ?? 0),
      failedRows: failed.length,
      batches: Number(summary?.batches ?? 0),
      errorFile,
      durationMs: Date.now() - started,
    };
    out("=== Processing Results ===");
    out(`Total Rows:  ${outcome.totalRows}`);
    out(`Success:     ${outcome.successfulRows}`);
    out(`Errors:      ${outcome.failedRows}`);
    out(`Skipped:     ${content.skippedLines}`);
    out(`Batches:     ${outcome.batches}`);
    out(`Duration:    ${outcome.durationMs} ms`);
    if (errorFile) out(`Error File:  ${errorFile}`);
    return outcome;
  } finally {
    clients.close();
  }
}

function progressBar(done: number, total: number): string {
  const width = 30;
  const filled = total === 0 ? width : Math.round((done / total) * width);
  return `\r[${"#".repeat(filled)}${" ".repeat(width - filled)}] ${done}/${total} rows sent`;
}

function parseArgs(argv: string[]): Record<string, string> {
  const args: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const match = /^(?:--([a-z-]+)|-([fo]))$/.exec(argv[i]);
    if (!match) throw new Error(`unknown argument ${argv[i]}`);
    const name = match[1] ?? { f: "file", o: "output-dir" }[match[2] as "f" | "o"];
    args[name] = argv[++i] ?? "";
  }
  return args;
}

if (require.main === module) {
  (async () => {
    const args = parseArgs(process.argv.slice(2));
    if (!args.file) throw new Error("--file is required");
    const token = args.token ?? process.env.TRADEPLANE_TOKEN;
    if (!token) throw new Error("--token or TRADEPLANE_TOKEN is required (npm start prints a development token)");
    await runImport({
      file: args.file,
      outputDir: args["output-dir"] ?? ".",
      address: args.address ?? process.env.ACCOUNTING_ADDRESS ?? "127.0.0.1:50051",
      token,
      deadlineMs: Number(args.timeout ?? 300_000),
    });
  })().catch((error: unknown) => {
    process.stderr.write(`import failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
