// How the ledger adapters send SQL: raw() binds column arrays as Postgres array literals built here (what unnest
// wants, without knex's walk over every element) and names a statement so each connection plans it once; text()
// and bare() turn decimals and plain columns into those bindings.
import Decimal from "decimal.js";
import type { Knex } from "knex";

/** Schema-qualifies a table or sequence name. */
export type Qualify = (name: string) => string;

/**
 * knex's binding type has no room for arrays with nulls, which is exactly what unnest wants. Array bindings are
 * sent as Postgres array literals built here: pg would send the very same text, but builds it by string
 * concatenation and knex first walks every element looking for undefined, which for a batch's dozen
 * 1,000-element columns was the largest allocation of the whole request.
 */
export function raw(db: Knex | Knex.Transaction, query: string, bindings: unknown[], statement: { name?: string } = {}): Promise<{ rows: any[] }> {
  const literals = new Array<unknown>(bindings.length);
  for (let i = 0; i < bindings.length; i++) literals[i] = arrayLiteral(bindings[i]);
  const built = db.raw(query, literals as Knex.RawBinding[]);
  // A named statement (see createLedgerStore) is parsed and planned once per connection.
  return (statement.name === undefined ? built : built.options(statement)) as unknown as Promise<{ rows: any[] }>;
}

/**
 * `{"a","b",NULL}` for an array of strings, numbers, booleans and nulls, quoted and escaped exactly as pg's
 * own arrayString does; anything else (not an array, or elements such as dates or nested arrays) is left to pg.
 * The common column (no nulls, nothing to escape) is one join.
 */
function arrayLiteral(value: unknown): unknown {
  if (!Array.isArray(value)) return value;
  let plain = true;
  for (let i = 0; i < value.length; i++) {
    const element: unknown = value[i];
    if (typeof element === "string") {
      if (element.indexOf('"') !== -1 || element.indexOf("\\") !== -1) plain = false;
    } else if (typeof element !== "number" && typeof element !== "bigint" && typeof element !== "boolean") {
      if (element !== null && element !== undefined) return value;
      plain = false;
    }
  }
  if (value.length === 0) return "{}";
  if (plain) return `{"${value.join('","')}"}`;
  // Usually only a few NULLs (a cash row's security) make the column not plain: escape only what needs it.
  const parts = new Array<string>(value.length);
  for (let i = 0; i < value.length; i++) {
    const element: unknown = value[i];
    if (element === null || element === undefined) parts[i] = "NULL";
    else {
      const text = String(element);
      parts[i] = text.indexOf('"') === -1 && text.indexOf("\\") === -1 ? `"${text}"` : `"${text.replace(/["\\]/g, "\\$&")}"`;
    }
  }
  return `{${parts.join(",")}}`;
}

export const text = (d: Decimal) => d.toFixed();

/**
 * The array literal of values whose text never needs quoting (numbers, decimals in plain notation: digits, a sign
 * and a point, and the fixed codes of statuses, types and sides), so it skips the scan arrayLiteral makes of every
 * element for quotes and backslashes.
 */
export function bare(values: (string | number)[]): string {
  return values.length === 0 ? "{}" : `{${values.join(",")}}`;
}
