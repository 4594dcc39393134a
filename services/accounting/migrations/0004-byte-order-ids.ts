// The ledger's id columns compare as plain bytes (COLLATE "C") where that orders exactly as the database's default
// collation already does. Every posted item inserts into about a dozen text indexes (transactions, balances, lots,
// realizations) and probes a few more; with a libc collation other than C/POSIX, Postgres compares each pair of
// keys through strcoll, even under "C.UTF-8", whose order is nonetheless the bytes' order. "C" compares with memcmp.
//
// Only on databases whose default collation is byte order already (C, POSIX, C.UTF-8, or the builtin provider's C
// locales): there nothing a client sees changes, since equality is byte equality under every deterministic
// collation and listings sorted by these columns keep their order. Under a linguistic collation (en_US, ICU) the
// sort order of mixed-case ids would change, so those databases keep their columns as they are.
import type { Knex } from "knex";
import type { MigrationContext } from "../../platform/database";

/** Text columns of the posting path, by table: every one of them is in an index the path writes or probes. */
const ID_COLUMNS: Record<string, { column: string; type: string }[]> = {
  transactions: [
    { column: "portfolio_id", type: "text" },
    { column: "security_id", type: "text" },
    { column: "source_id", type: "varchar(50)" },
  ],
  balances: [
    { column: "portfolio_id", type: "text" },
    { column: "security_id", type: "text" },
  ],
  tax_lots: [
    { column: "portfolio_id", type: "text" },
    { column: "security_id", type: "text" },
    { column: "side", type: "text" },
    { column: "lot_id", type: "text" },
  ],
  lot_closures: [
    { column: "portfolio_id", type: "text" },
    { column: "security_id", type: "text" },
  ],
  portfolio_settings: [{ column: "portfolio_id", type: "text" }],
};

export async function up(knex: Knex, { schema }: MigrationContext): Promise<void> {
  if (!(await defaultCollationIsByteOrder(knex))) return;
  for (const [table, columns] of Object.entries(ID_COLUMNS)) {
    // One statement per table: its indexes are rebuilt once, and the rows are not rewritten (same type).
    const changes = columns.map(({ column, type }) => `alter column "${column}" type ${type} collate "C"`).join(", ");
    await knex.raw(`alter table ?? ${changes}`, [`${schema}.${table}`]);
  }
}

/** True when the database's default collation sorts text by code point, i.e. by UTF-8 bytes. */
export async function defaultCollationIsByteOrder(knex: Knex): Promise<boolean> {
  // Read through to_jsonb: the provider and locale columns differ between Postgres versions (and PGlite).
  const { rows } = await knex.raw(`select to_jsonb(d) as db from pg_database d where datname = current_database()`);
  const db = (rows as { db: Record<string, string | null> }[])[0]?.db ?? {};
  const provider = db.datlocprovider ?? "c";
  const byteOrder = (locale: string | null | undefined) => locale != null && /^(C|POSIX|C\.UTF-?8)$/i.test(locale);
  if (provider === "c") return byteOrder(db.datcollate);
  if (provider === "b") return byteOrder(db.datlocale);
  return false;
}
