import { AccountingError } from "./accounting-error";
import { isYyyymmdd } from "./validate-transaction";

/** Lists page by 50 unless asked otherwise, never more than 1,000 at once. */
export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 1000;

/** One ORDER BY term from a `sort_by` list. */
export interface SortTerm {
  field: string;
  descending: boolean;
}

/** 0 means the default; anything above the maximum is clamped (negative is a client bug). */
export function pageSizeOf(requested: number): number {
  if (requested < 0) throw invalidFilter("page_size", "must not be negative");
  return requested === 0 ? DEFAULT_PAGE_SIZE : Math.min(requested, MAX_PAGE_SIZE);
}

/** The opaque page token is the offset of the next page, base64url-encoded so clients do not build it. */
export function encodePageToken(offset: number): string {
  return Buffer.from(JSON.stringify({ o: offset })).toString("base64url");
}

/** Decodes a token from encodePageToken; an empty token is the first page. */
export function decodePageToken(token: string): number {
  if (token === "") return 0;
  try {
    const parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as { o?: unknown };
    if (typeof parsed.o === "number" && Number.isInteger(parsed.o) && parsed.o >= 0) return parsed.o;
  } catch {
    // fall through to the error below
  }
  throw invalidFilter("page_token", "is not a token this service issued");
}

/**
 * Parses GlobeCo's `sortby` list ("portfolio_id,-transaction_date"). Unlike the reference, every listed field
 * applies, in order (its implementation used only the first), and an unknown field is an error rather than
 * silently ignored.
 */
export function parseSortBy(spec: string, allowed: readonly string[], fallback: SortTerm[]): SortTerm[] {
  const terms = spec
    .split(",")
    .map((part) => part.trim())
    .filter((part) => part.length > 0)
    .map((part) => ({ field: part.replace(/^-/, ""), descending: part.startsWith("-") }));
  for (const term of terms) {
    if (!allowed.includes(term.field)) throw invalidFilter("sort_by", `unknown field ${term.field}; allowed: ${allowed.join(", ")}`);
  }
  return terms.length > 0 ? terms : fallback;
}

/** Accepts YYYYMMDD and YYYY-MM-DD (the reference's GET filters used the latter); returns YYYY-MM-DD or null. */
export function parseDateFilter(value: string, field: string): string | null {
  if (value === "") return null;
  const compact = /^\d{4}-\d{2}-\d{2}$/.test(value) ? value.replace(/-/g, "") : value;
  if (!isYyyymmdd(compact)) throw invalidFilter(field, "must be a date in YYYYMMDD or YYYY-MM-DD format");
  return `${compact.slice(0, 4)}-${compact.slice(4, 6)}-${compact.slice(6, 8)}`;
}

/** INVALID_ARGUMENT with the reference's INVALID_FILTER reason. */
export function invalidFilter(field: string, description: string): AccountingError {
  return new AccountingError("INVALID_ARGUMENT", `${field} ${description}`, [{ field, description }], { reason: "INVALID_FILTER" });
}
