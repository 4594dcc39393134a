import Decimal from "decimal.js";
import { csvField, IMPORT_COLUMNS } from "./csv-import";
import { isEntityId } from "./identifiers";
import { formatFixed, parseDecimal } from "./money";

/** An execution as a client records it (GlobeCo ExecutionPostDTO plus the portfolio id). */
export interface ExecutionInput {
  executionServiceId: string;
  isOpen: boolean;
  executionStatus: string;
  /** "BUY" | "SELL", anything else is invalid. */
  tradeType: string;
  destination: string;
  securityId: string;
  ticker: string;
  portfolioId: string;
  quantity: string;
  limitPrice: string;
  receivedTimestamp: Date | null;
  sentTimestamp: Date | null;
  lastFillTimestamp: Date | null;
  quantityFilled: string;
  totalAmount: string;
  averagePrice: string;
}

/** A validated execution ready to store. */
export interface NewExecution {
  executionServiceId: string;
  executionStatus: string;
  tradeType: "BUY" | "SELL";
  destination: string;
  securityId: string;
  ticker: string;
  portfolioId: string;
  quantity: Decimal;
  limitPrice: Decimal | null;
  receivedTimestamp: Date;
  sentTimestamp: Date;
  lastFillTimestamp: Date | null;
  quantityFilled: Decimal;
  totalAmount: Decimal;
  averagePrice: Decimal;
  /** YYYYMMDD. */
  tradeDate: string;
}

/** A stored execution (what a send writes to the file). */
export interface StoredExecution extends NewExecution {
  id: string;
  readyToSendTimestamp: Date;
  version: number;
}

/** The allocation service takes 1–100 executions per call. */
export const MAX_EXECUTIONS_PER_CALL = 100;

/** The first send's window starts at the seed row of the batch history. */
export const FIRST_WINDOW_START = new Date("1900-01-01T00:00:00Z");

const NEW_YORK_DATE = new Intl.DateTimeFormat("en-CA", { timeZone: "America/New_York", year: "numeric", month: "2-digit", day: "2-digit" });

/**
 * The trade date is the America/New_York calendar date of the moment, daylight saving included (the intent of
 * the reference; its implementation stored the UTC date minus one day).
 */
export function newYorkTradeDate(moment: Date): string {
  return NEW_YORK_DATE.format(moment).replace(/-/g, "");
}

/**
 * Validates one execution with the reference's rules; on failure returns "validation failed: <details>",
 * the reference's error text for the item.
 */
export function validateExecution(input: ExecutionInput): { ok: true; execution: NewExecution } | { ok: false; error: string } {
  const problems: string[] = [];
  const text = (name: string, value: string, max: number) => {
    if (value.length === 0) problems.push(`${name} is required`);
    else if (value.length > max) problems.push(`${name} must be at most ${max} characters`);
  };
  const decimal = (name: string, value: string, rule: "positive" | "non-negative" | "optional-positive"): Decimal | null => {
    if (value === "" && rule !== "positive") return null;
    const parsed = parseDecimal(value);
    if (parsed === null) {
      problems.push(`${name} must be a decimal number`);
      return null;
    }
    if (rule === "non-negative" ? parsed.isNegative() : !parsed.greaterThan(0)) {
      problems.push(`${name} must be ${rule === "non-negative" ? ">= 0" : "> 0"}`);
    }
    return parsed;
  };
  if (!/^-?\d+$/.test(input.executionServiceId) || BigInt(input.executionServiceId) === 0n) problems.push("executionServiceId is required");
  text("executionStatus", input.executionStatus, 20);
  if (input.tradeType !== "BUY" && input.tradeType !== "SELL") problems.push("tradeType must be one of BUY SELL");
  text("destination", input.destination, 20);
  if (!isEntityId(input.securityId)) problems.push("securityId must be exactly 24 alphanumeric characters");
  text("ticker", input.ticker, 20);
  if (!isEntityId(input.portfolioId)) problems.push("portfolioId must be exactly 24 alphanumeric characters");
  const quantity = decimal("quantity", input.quantity, "positive");
  const limitPrice = decimal("limitPrice", input.limitPrice, "optional-positive");
  if (!input.receivedTimestamp) problems.push("receivedTimestamp is required");
  if (!input.sentTimestamp) problems.push("sentTimestamp is required");
  const quantityFilled = decimal("quantityFilled", input.quantityFilled, "non-negative");
  const totalAmount = decimal("totalAmount", input.totalAmount, "non-negative");
  const averagePrice = decimal("averagePrice", input.averagePrice, "positive");
  if (problems.length > 0) return { ok: false, error: `validation failed: ${problems.join("; ")}` };
  const zero = new Decimal(0);
  return {
    ok: true,
    execution: {
      executionServiceId: input.executionServiceId,
      executionStatus: input.executionStatus,
      tradeType: input.tradeType as "BUY" | "SELL",
      destination: input.destination,
      securityId: input.securityId,
      ticker: input.ticker,
      portfolioId: input.portfolioId,
      quantity: quantity as Decimal,
      limitPrice,
      receivedTimestamp: input.receivedTimestamp as Date,
      sentTimestamp: input.sentTimestamp as Date,
      lastFillTimestamp: input.lastFillTimestamp,
      quantityFilled: quantityFilled ?? zero,
      totalAmount: totalAmount ?? zero,
      averagePrice: averagePrice as Decimal,
      tradeDate: newYorkTradeDate(input.sentTimestamp as Date),
    },
  };
}

/** "transactions_YYYYMMDD_HHMMSS.csv" of the send's start, in UTC (the reference used the server's local clock). */
export function allocationFileName(start: Date): string {
  const iso = start.toISOString();
  return `transactions_${iso.slice(0, 10).replace(/-/g, "")}_${iso.slice(11, 19).replace(/:/g, "")}.csv`;
}

/**
 * The file a send writes (§2.7): the GlobeCo header, one row per execution, source_id "AC<id>", the ordered
 * quantity (not the filled one) and the average price as `%.8f`, the trade date as YYYYMMDD, "\n" endings.
 */
export function formatAllocationFile(executions: readonly StoredExecution[]): string {
  const lines = [IMPORT_COLUMNS.join(",")];
  for (const e of executions) {
    lines.push(
      [e.portfolioId, e.securityId, `AC${e.id}`, e.tradeType, formatFixed(e.quantity, 8), formatFixed(e.averagePrice, 8), e.tradeDate].map(csvField).join(","),
    );
  }
  return lines.join("\n") + "\n";
}
