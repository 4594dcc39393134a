import { createTestDatabase, openDatabase, type Database } from "../../services/platform/database";

/** A fresh test database with accounting's schema migrated, for tests of its adapters below the service. */
export interface AccountingTestDatabase {
  db: Database;
  /** Connection URL of the test database (for a raw client of its own). */
  url: string;
  /** Closes the pool and drops the database. */
  close(): Promise<void>;
}

/**
 * Creates a test database and opens it with accounting's migrations applied, as main.ts opens schema "accounting".
 * `icuLocale` (real server only) makes the database's default collation that ICU locale.
 */
export async function openAccountingDatabase(poolMax = 4, options: { icuLocale?: string } = {}): Promise<AccountingTestDatabase> {
  const testDb = await createTestDatabase({ icuLocale: options.icuLocale });
  const db = await openDatabase({ url: testDb.url, schema: "accounting", migrationsDir: "services/accounting/migrations", poolMax });
  return {
    db,
    url: testDb.url,
    async close() {
      await db.close();
      await testDb.drop();
    },
  };
}
