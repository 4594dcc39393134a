// Reading a GlobeCo transaction CSV from disk, line by line (a 100,000-row file never sits in memory as one
// string), shared by the CLI and the allocation send so both import exactly the same way.
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { parseCsvRecord, parseImportHeader, rowFromRecord, type FailedImportRow, type ImportRow } from "../domain/csv-import";

export interface CsvFileContent {
  rows: ImportRow[];
  /** Rows with too few fields (reported in the error file with the reference's message). */
  failed: FailedImportRow[];
  /** Malformed CSV lines, skipped as the reference CLI does (counted for the summary). */
  skippedLines: number;
}

/** Reads and checks the header (throws "missing required header: <name>"), then every data line. */
export async function readTransactionCsv(path: string): Promise<CsvFileContent> {
  const lines = createInterface({ input: createReadStream(path, { encoding: "utf8" }), crlfDelay: Infinity });
  let header: ReturnType<typeof parseImportHeader> | null = null;
  let lineNumber = 0;
  const rows: ImportRow[] = [];
  const failed: FailedImportRow[] = [];
  let skippedLines = 0;
  for await (const line of lines) {
    lineNumber++;
    if (header === null) {
      header = parseImportHeader(parseCsvRecord(line.replace(/^\uFEFF/, "")) ?? []);
      continue;
    }
    if (line.trim() === "") continue;
    const record = parseCsvRecord(line);
    if (record === null) {
      skippedLines++;
      continue;
    }
    const row = rowFromRecord(record, header, lineNumber);
    if ("errorMessage" in row) failed.push(row);
    else rows.push(row);
  }
  if (header === null) throw new Error("missing required header: portfolio_id");
  return { rows, failed, skippedLines };
}
