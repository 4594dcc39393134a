// The database of one service: a knex + pg pool, the service's own Postgres schema, and its migrations run at open.
// Each service owns one schema (`orders`, `accounting`, ...) and keeps its knex migrations table inside it, so services
// sharing one database never collide. Everything is schema-qualified rather than set through `search_path`, because the
// embedded server shares one session between all connections (see embedded-postgres.ts).
import { randomBytes } from "node:crypto";
import { readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import knexFactory, { type Knex } from "knex";
import { Client, type ClientConfig, type CustomTypesConfig, types as pgTypes } from "pg";
import { isEmbeddedPostgresVersion, startEmbeddedPostgres } from "./embedded-postgres";
import type { Logger } from "./logger";

export interface DatabaseOptions {
  /** postgres:// URL of a real server or of the embedded one. */
  url: string;
  /** The service's schema, e.g. `orders`; created if missing. Lower-case letters, digits and `_`. */
  schema: string;
  /** Directory of the service's migrations (`services/<svc>/migrations`); omitted means none. */
  migrationsDir?: string;
  /** Connections in the pool (default 10). */
  poolMax?: number;
  /** Server-side limit on one statement (default 30 s); 0 disables it. Not enforced by the embedded server. */
  statementTimeoutMs?: number;
  logger?: Logger;
}

export interface Database {
  knex: Knex;
  schema: string;
  /**
   * Query options that have pg prepare a hot statement once per connection under `name` and reuse its plan, instead
   * of parsing and planning it on every call (for the large data-modifying CTEs of the order path that planning is
   * a good part of the statement's cost). Empty on the embedded server, whose one shared session cannot keep names
   * apart per connection. Use it as `knex.raw(sql, bindings).options(db.prepared("orders.create"))`; one name per
   * SQL text, which must not change while the process runs.
   */
  prepared(name: string): { name?: string };
  /** Resolves when the server answers a trivial query within two seconds (drives health). */
  probe(): Promise<void>;
  /** Waits for the connections in use to be released, then closes the pool. */
  close(): Promise<void>;
}

/** What a migration receives besides knex: the schema it must create its tables in. */
export interface MigrationContext {
  schema: string;
}

/**
 * The shape of a migration file in `services/<svc>/migrations/NNNN-what-it-does.ts`. Files run in name order, each in
 * its own transaction, once per database; `down` is optional because production never migrates backwards.
 */
export interface MigrationModule {
  up(knex: Knex, context: MigrationContext): Promise<void>;
  down?(knex: Knex, context: MigrationContext): Promise<void>;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
const DEFAULT_POOL_MAX = 10;
const DEFAULT_STATEMENT_TIMEOUT_MS = 30_000;
const CONNECT_TIMEOUT_MS = 5_000;
// A request waiting this long for a free connection fails instead of queueing for knex's default minute.
const ACQUIRE_TIMEOUT_MS = 10_000;
const PROBE_TIMEOUT_MS = 2_000;
const MIGRATIONS_TABLE = "knex_migrations";

/** Opens the pool, creates the schema and runs pending migrations; rejects (and closes the pool) if any step fails. */
export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  const { url, schema } = options;
  if (!SCHEMA_NAME.test(schema)) throw new Error(`invalid schema name ${JSON.stringify(schema)}`);
  const statementTimeoutMs = options.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS;

  const knex = knexFactory({
    client: "pg",
    // knex hands this object to pg's Client unchanged; knex's own type for it is narrower than pg's.
    connection: {
      ...connectionSettings(url),
      application_name: `tradeplane-${schema}`,
      ...(statementTimeoutMs > 0 ? { statement_timeout: statementTimeoutMs } : {}),
    } as Knex.PgConnectionConfig,
    pool: { min: 0, max: options.poolMax ?? DEFAULT_POOL_MAX, idleTimeoutMillis: 30_000 },
    acquireConnectionTimeout: ACQUIRE_TIMEOUT_MS,
    // knex prints pool and connection trouble to the console by default; the same failures also reject the queries
    // that hit them, so they go to the service's logger (or nowhere) instead.
    log: {
      warn: (message: unknown) => options.logger?.warn("knex warning", { schema, detail: String(message) }),
      error: (message: unknown) => options.logger?.error("knex error", { schema, detail: String(message) }),
      deprecate: (method: string, alternative: string) =>
        options.logger?.warn("knex deprecation", { schema, method, alternative }),
      debug: () => undefined,
    },
  });

  let namedStatements: boolean;
  try {
    await inProcessTurn(`${url}|${schema}`, () => migrate(url, knex, schema, options.migrationsDir, options.logger));
    const { rows } = await knex.raw<{ rows: { version: string }[] }>("select version() as version");
    namedStatements = !isEmbeddedPostgresVersion(rows[0].version);
  } catch (error) {
    await knex.destroy();
    throw error;
  }

  return {
    knex,
    schema,
    prepared: (name) => (namedStatements ? { name: `${schema}.${name}` } : {}),
    probe: () => withTimeout(knex.raw("select 1").then(() => undefined), PROBE_TIMEOUT_MS, "database probe"),
    close: () => knex.destroy(),
  };
}

/**
 * pg connection settings with tradeplane's type parsers, applied per connection rather than through the global
 * `pg.types` so nothing else in the process can change them: NUMERIC and BIGINT come back as exact strings (never a
 * float), their arrays as string arrays, DATE as its `YYYY-MM-DD` text (a JS Date would shift it by the local time
 * zone), and TIMESTAMPTZ as a Date (pg's default).
 */
export function connectionSettings(url: string): ClientConfig {
  return {
    connectionString: url,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    types: { getTypeParser: tradeplaneTypeParser as CustomTypesConfig["getTypeParser"] },
  };
}

const TYPE_OID = { int8: 20, numeric: 1700, date: 1082, int8Array: 1016, numericArray: 1231, textArray: 1009 };

function tradeplaneTypeParser(oid: number, format?: "text" | "binary"): (value: string) => unknown {
  if (format === "binary") return pgTypes.getTypeParser(oid, "binary");
  switch (oid) {
    case TYPE_OID.int8:
    case TYPE_OID.numeric:
    case TYPE_OID.date:
      return (value) => value;
    case TYPE_OID.int8Array:
    case TYPE_OID.numericArray:
      // pg's defaults turn these into JS numbers; the text[] parser keeps each element's exact text.
      return pgTypes.getTypeParser(TYPE_OID.textArray, "text");
    default:
      return pgTypes.getTypeParser(oid, "text");
  }
}

async function migrate(
  url: string,
  knex: Knex,
  schema: string,
  migrationsDir: string | undefined,
  logger: Logger | undefined,
): Promise<void> {
  // Replicas starting together would race on CREATE SCHEMA and on knex's own lock table (the loser fails instead of
  // waiting). A session advisory lock per schema makes the others wait, then find nothing left to do. The lock is held
  // on a dedicated connection so that knex's migrations can use the pool meanwhile.
  const lockClient = new Client(connectionSettings(url));
  await lockClient.connect();
  try {
    const lockKey = `tradeplane.migrate.${schema}`;
    await lockClient.query("select pg_advisory_lock(hashtext($1))", [lockKey]);
    try {
      await knex.raw("create schema if not exists ??", [schema]);
      if (migrationsDir === undefined) return;
      const [, applied] = (await knex.migrate.latest({
        schemaName: schema,
        tableName: MIGRATIONS_TABLE,
        migrationSource: migrationSource(resolve(migrationsDir), { schema }),
      })) as [number, string[]];
      if (applied.length > 0) logger?.info("database migrations applied", { schema, migrations: applied });
    } finally {
      await lockClient.query("select pg_advisory_unlock(hashtext($1))", [lockKey]);
    }
  } finally {
    await lockClient.end();
  }
}

// The advisory lock in migrate() excludes other processes, but not other opens in this process when the server is the
// embedded one: its single shared session holds advisory locks reentrantly. Opens of one schema in this process
// therefore also take turns here.
const migrationTurns = new Map<string, Promise<unknown>>();

async function inProcessTurn<T>(key: string, work: () => Promise<T>): Promise<T> {
  const previous = migrationTurns.get(key) ?? Promise.resolve();
  const mine = previous.catch(() => undefined).then(work);
  migrationTurns.set(key, mine);
  try {
    return await mine;
  } finally {
    if (migrationTurns.get(key) === mine) migrationTurns.delete(key);
  }
}

interface MigrationFile {
  name: string;
  path: string;
}

/** Reads `NNNN-name.ts` files (or their compiled `.js`) in name order; the recorded name has no extension. */
function migrationSource(dir: string, context: MigrationContext): Knex.MigrationSource<MigrationFile> {
  return {
    async getMigrations() {
      const byName = new Map<string, MigrationFile>();
      for (const file of readdirSync(dir).sort()) {
        const match = /^(.+)\.(ts|js)$/.exec(file);
        if (!match || file.endsWith(".d.ts") || file.endsWith(".test.ts")) continue;
        if (!byName.has(match[1])) byName.set(match[1], { name: match[1], path: join(dir, file) });
      }
      return [...byName.values()];
    },
    getMigrationName: (migration) => migration.name,
    async getMigration(migration) {
      // Loaded with require: the process runs under tsx, which compiles the TypeScript file on the fly.
      const module = require(migration.path) as Partial<MigrationModule>;
      if (typeof module.up !== "function") throw new Error(`migration ${migration.path} exports no up()`);
      const { up, down } = module;
      return {
        up: (knex: Knex) => up(knex, context),
        // knex insists on a down(); a migration without one is simply not reversible.
        down: async (knex: Knex) => {
          if (down === undefined) throw new Error(`migration ${migration.name} cannot be reverted`);
          await down(knex, context);
        },
      };
    },
  };
}

function withTimeout<T>(work: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${timeoutMs} ms`)), timeoutMs);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

export interface TestDatabase {
  /** URL of a database nobody else uses. */
  url: string;
  /** Drops the database (real server) or stops the embedded server; close your pools first. */
  drop(): Promise<void>;
}

/**
 * A fresh, empty database for one test file. With a base URL (DATABASE_URL by default) it creates `tp_test_<random>`
 * on that server; without one it starts an in-memory embedded server, unless REQUIRE_REAL_SERVICES=1 forbids the
 * fallback. `icuLocale` (e.g. "en-US", real server only) gives the database that ICU locale as its default
 * collation, as a deployment with a linguistic default collation would have.
 */
export async function createTestDatabase(
  options: { baseUrl?: string; env?: NodeJS.ProcessEnv; icuLocale?: string } = {},
): Promise<TestDatabase> {
  const env = options.env ?? process.env;
  const baseUrl = options.baseUrl ?? (env.DATABASE_URL || undefined);
  const { icuLocale } = options;
  if (icuLocale !== undefined && !/^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$/.test(icuLocale)) {
    throw new Error(`not an ICU locale name: ${JSON.stringify(icuLocale)}`);
  }
  if (baseUrl === undefined) {
    if (env.REQUIRE_REAL_SERVICES === "1") {
      throw new Error("REQUIRE_REAL_SERVICES=1 but DATABASE_URL is not set");
    }
    if (icuLocale !== undefined) throw new Error("a database with an ICU default collation needs a real server (DATABASE_URL)");
    const embedded = await startEmbeddedPostgres();
    return { url: embedded.url, drop: () => embedded.stop() };
  }

  const name = `tp_test_${randomBytes(6).toString("hex")}`;
  // template0: a database's collation can differ from its template's only when copied from template0.
  const collation = icuLocale === undefined ? "" : ` template template0 locale_provider icu icu_locale '${icuLocale}'`;
  await withAdminClient(baseUrl, (client) => client.query(`create database "${name}"${collation}`));
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    // FORCE (Postgres 13+) ends sessions a test left behind instead of failing the drop.
    drop: () => withAdminClient(baseUrl, (client) => client.query(`drop database if exists "${name}" with (force)`)),
  };
}

async function withAdminClient(url: string, work: (client: Client) => Promise<unknown>): Promise<void> {
  const client = new Client(connectionSettings(url));
  await client.connect();
  try {
    await work(client);
  } finally {
    await client.end();
  }
}
