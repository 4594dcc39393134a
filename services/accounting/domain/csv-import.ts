import { parseDecimal } from "./money";
import { isTransactionType } from "./transaction-type";
import { isYyyymmdd, type TransactionFieldError, type TransactionInput } from "./validate-transaction";

/** The GlobeCo transaction file's columns, in the order the allocation service writes them. */
export const IMPORT_COLUMNS = ["portfolio_id", "security_id", "source_id", "transaction_type", "quantity", "price", "transaction_date"] as const;
export type ImportColumn = (typeof IMPORT_COLUMNS)[number];

/** One data row of the file, as text, with its 1-based line number (the header is line 1). */
export interface ImportRow {
  lineNumber: number;
  portfolioId: string;
  securityId: string;
  sourceId: string;
  transactionType: string;
  quantity: string;
  price: string;
  transactionDate: string;
}

/** A row that will not be imported and the reason written to the error file. */
export interface FailedImportRow {
  row: ImportRow;
  errorMessage: string;
}

/** The most rows one PostTransactions-sized chunk may hold (the server's batch limit). */
export const MAX_IMPORT_CHUNK = 1000;

/**
 * Maps header names to column positions: case-insensitive, any order, extra columns allowed, every GlobeCo
 * column required (the reference CLI's rules). Throws with the CLI's message for a missing column.
 */
export function parseImportHeader(fields: string[]): Record<ImportColumn, number> {
  const positions = new Map(fields.map((name, index) => [name.trim().toLowerCase(), index] as const));
  const result = {} as Record<ImportColumn, number>;
  for (const column of IMPORT_COLUMNS) {
    const index = positions.get(column);
    if (index === undefined) throw new Error(`missing required header: ${column}`);
    result[column] = index;
  }
  return result;
}

/**
 * Splits one CSV record (RFC 4180: quoted fields, doubled quotes, no embedded newlines in this format).
 * Returns null for a malformed record, which the reference CLI skips.
 */
export function parseCsvRecord(line: string): string[] | null {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    if (line[i] === '"') {
      let value = "";
      i++;
      for (;;) {
        if (i >= line.length) return null;
        if (line[i] === '"') {
          if (line[i + 1] === '"') {
            value += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        value += line[i++];
      }
      fields.push(value);
      if (i === line.length) return fields;
      if (line[i] !== ",") return null;
      i++;
    } else {
      const comma = line.indexOf(",", i);
      const end = comma === -1 ? line.length : comma;
      const value = line.slice(i, end);
      if (value.includes('"')) return null;
      fields.push(value);
      if (comma === -1) return fields;
      i = comma + 1;
    }
  }
}

/** Quotes a field when it contains a comma, a quote or a line break, doubling embedded quotes. */
export function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** Builds the row from a record using the header's positions, or the reference's "insufficient fields" error. */
export function rowFromRecord(fields: string[], header: Record<ImportColumn, number>, lineNumber: number): ImportRow | FailedImportRow {
  const value = (column: ImportColumn) => fields[header[column]] ?? "";
  const row: ImportRow = {
    lineNumber,
    portfolioId: value("portfolio_id"),
    securityId: value("security_id"),
    sourceId: value("source_id"),
    transactionType: value("transaction_type"),
    quantity: value("quantity"),
    price: value("price"),
    transactionDate: value("transaction_date"),
  };
  if (fields.length < IMPORT_COLUMNS.length) {
    return { row, errorMessage: `insufficient fields: expected ${IMPORT_COLUMNS.length}, got ${fields.length}` };
  }
  return row;
}

/** The reference CLI's local checks of a row, messages joined with "; " (empty when the row is valid). */
export function validateImportRow(row: ImportRow): string {
  const errors: string[] = [];
  const portfolioId = row.portfolioId.trim();
  const securityId = row.securityId.trim();
  const sourceId = row.sourceId.trim();
  const type = row.transactionType.trim().toUpperCase();
  if (portfolioId === "") errors.push("portfolio_id is required");
  else if (portfolioId.length !== 24) errors.push("portfolio_id must be 24 characters");
  if (securityId !== "" && securityId.length !== 24) errors.push("security_id must be 24 characters when provided");
  if (sourceId === "") errors.push("source_id is required");
  else if (sourceId.length > 50) errors.push("source_id must be 50 characters or less");
  if (!isTransactionType(type)) errors.push("invalid transaction_type: must be BUY, SELL, SHORT, COVER, DEP, WD, IN, or OUT");
  if (row.quantity.trim() === "") errors.push("quantity is required");
  else if (parseDecimal(row.quantity) === null) errors.push("quantity must be a valid decimal number");
  if (row.price.trim() === "") errors.push("price is required");
  else if (parseDecimal(row.price) === null) errors.push("price must be a valid decimal number");
  if (!isYyyymmdd(row.transactionDate.trim())) errors.push("transaction_date must be in YYYYMMDD format");
  if (securityId === "" && isTransactionType(type) && type !== "DEP" && type !== "WD") {
    errors.push("security_id can only be empty for DEP or WD transaction types");
  }
  return errors.join("; ");
}

/** The row as a PostTransactions item: trimmed, type upper-cased, an empty security meaning "none". */
export function toTransactionInput(row: ImportRow): TransactionInput {
  const securityId = row.securityId.trim();
  return {
    portfolioId: row.portfolioId.trim(),
    securityId: securityId === "" ? null : securityId,
    sourceId: row.sourceId.trim(),
    transactionType: row.transactionType.trim().toUpperCase(),
    quantity: row.quantity.trim(),
    price: row.price.trim(),
    transactionDate: row.transactionDate.trim(),
  };
}

/**
 * Sorts rows by portfolio_id, transaction_date, transaction_type (plain string comparison, as the reference's
 * file processor) and cuts them into chunks of one portfolio and at most `maxChunk` rows. The sort is stable,
 * so rows that tie keep their file order.
 */
export function planImportChunks(rows: readonly ImportRow[], maxChunk = MAX_IMPORT_CHUNK): ImportRow[][] {
  const key = (row: ImportRow) => [row.portfolioId.trim(), row.transactionDate.trim(), row.transactionType.trim().toUpperCase()];
  const sorted = [...rows].sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    for (let i = 0; i < ka.length; i++) {
      if (ka[i] !== kb[i]) return ka[i] < kb[i] ? -1 : 1;
    }
    return 0;
  });
  const chunks: ImportRow[][] = [];
  let current: ImportRow[] = [];
  for (const row of sorted) {
    if (current.length > 0 && (current.length >= maxChunk || current[0].portfolioId.trim() !== row.portfolioId.trim())) {
      chunks.push(current);
      current = [];
    }
    current.push(row);
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/** "field: message; field: message", the error file's error_message for a row the server rejected. */
export function formatFieldErrors(errors: readonly TransactionFieldError[]): string {
  return errors.map((e) => `${e.field}: ${e.message}`).join("; ");
}

/** `<base>-errors.csv` for an input file name (the spec's name; the reference CLI wrote `<file>.errors.csv`). */
export function errorFileName(inputFileName: string): string {
  const base = inputFileName.replace(/^.*[\\/]/, "").replace(/\.csv$/i, "");
  return `${base}-errors.csv`;
}

/** The error file: the GlobeCo columns plus error_message, failed rows in file order, "\n" line endings. */
export function formatErrorFile(failed: readonly FailedImportRow[]): string {
  const lines = [[...IMPORT_COLUMNS, "error_message"].join(",")];
  for (const { row, errorMessage } of [...failed].sort((a, b) => a.row.lineNumber - b.row.lineNumber)) {
    lines.push(
      [row.portfolioId, row.securityId, row.sourceId, row.transactionType, row.quantity, row.price, row.transactionDate, errorMessage]
        .map(csvField)
        .join(","),
    );
  }
  return lines.join("\n") + "\n";
}
