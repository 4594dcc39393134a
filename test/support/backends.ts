// Which backends a test run uses. With DATABASE_URL / REDIS_URL / AMQP_URL set (CI sets all three), tests run
// against the real PostgreSQL, Redis and RabbitMQ; without them, against the embedded stand-ins. With
// REQUIRE_REAL_SERVICES=1 a missing URL fails the run instead of falling back.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createTestDatabase, type TestDatabase } from "../../services/platform/database";

export const requireRealServices = process.env.REQUIRE_REAL_SERVICES === "1";

/**
 * A RabbitMQ virtual host of the run's own. Queue names are fixed (orders.execute, accounting.fills, ...), so two
 * runs on one broker (or messages a killed run left behind) would otherwise take each other's messages. Created
 * synchronously while mocha loads this module, before any test file reads AMQP_URL, and deleted after the run.
 * Without rabbitmqctl on this host the run uses the URL as given.
 */
function isolateRabbitMqRun(): string | undefined {
  const base = process.env.AMQP_URL;
  if (!base) return undefined;
  const vhost = `tp_test_${randomBytes(4).toString("hex")}`;
  const url = new URL(base);
  try {
    execFileSync("rabbitmqctl", ["add_vhost", vhost], { stdio: "ignore", timeout: 30_000 });
    execFileSync("rabbitmqctl", ["set_permissions", "-p", vhost, decodeURIComponent(url.username || "guest"), ".*", ".*", ".*"], {
      stdio: "ignore",
      timeout: 30_000,
    });
  } catch {
    return undefined;
  }
  url.pathname = `/${vhost}`;
  process.env.AMQP_URL = url.toString();
  return vhost;
}

const runVhost = isolateRabbitMqRun();

/** Deletes the run's RabbitMQ virtual host, if one was made. */
export function dropRunVhost(): void {
  if (!runVhost) return;
  try {
    execFileSync("rabbitmqctl", ["delete_vhost", runVhost], { stdio: "ignore", timeout: 30_000 });
  } catch {
    // A leftover vhost holds nothing another run reads.
  }
}

export const realUrls = {
  database: process.env.DATABASE_URL || undefined,
  redis: process.env.REDIS_URL || undefined,
  amqp: process.env.AMQP_URL || undefined,
};

/** Fails the run when real services are required but not configured. */
export function checkRequiredServices(): void {
  if (!requireRealServices) return;
  const missing = Object.entries({ DATABASE_URL: realUrls.database, REDIS_URL: realUrls.redis, AMQP_URL: realUrls.amqp })
    .filter(([, value]) => value === undefined)
    .map(([name]) => name);
  if (missing.length > 0) throw new Error(`REQUIRE_REAL_SERVICES=1 but ${missing.join(", ")} not set`);
}

let database: TestDatabase | undefined;

/**
 * The run's fresh database: a new `tp_test_*` database on the real server, or an in-memory embedded one. Created by
 * the root hook before any test file, dropped after the last.
 */
export async function openRunDatabase(): Promise<string> {
  database ??= await createTestDatabase();
  return database.url;
}

export function runDatabaseUrl(): string {
  if (!database) throw new Error("the run's database is not open (test/support/hooks.ts opens it)");
  return database.url;
}

export async function dropRunDatabase(): Promise<void> {
  const current = database;
  database = undefined;
  await current?.drop();
}
