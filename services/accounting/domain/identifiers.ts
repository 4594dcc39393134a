import { AccountingError } from "./accounting-error";

const ID_24 = /^[a-zA-Z0-9]{24}$/;

/** True for a GlobeCo portfolio or security id: exactly 24 alphanumeric characters (in practice ObjectIds). */
export function isEntityId(value: string): boolean {
  return ID_24.test(value);
}

/** Throws INVALID_ARGUMENT naming the field unless the value is a 24-character alphanumeric id. */
export function requireEntityId(value: string, field: string): string {
  if (!isEntityId(value)) {
    const description = "must be exactly 24 alphanumeric characters";
    throw new AccountingError("INVALID_ARGUMENT", `${field} ${description}`, [{ field, description }]);
  }
  return value;
}

/** YYYYMMDD of a moment's UTC calendar date. */
export function utcDateString(moment: Date): string {
  return moment.toISOString().slice(0, 10).replace(/-/g, "");
}
