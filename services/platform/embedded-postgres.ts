// Embedded Postgres for `npm start` and `npm test` on a bare machine: PGlite (the real Postgres compiled to WASM) served
// on a local TCP port by @electric-sql/pglite-socket, so services reach it through exactly the same knex + pg code as a
// real server. Only the composition root chooses it, when DATABASE_URL is not set.
//
// How the socket server shares one database between many connections (read from pglite-socket 0.2.x, src/index.ts):
// - PGlite is a single Postgres backend. The server accepts up to `maxConnections` sockets (default 1: a second
//   client would be cut off at once, so we raise it) and funnels every wire-protocol message of every socket into one
//   queue that PGlite executes one at a time.
// - While a transaction block is open, only the socket that opened it is served; other sockets' messages wait until it
//   commits or rolls back (or disconnects, which rolls it back). Transactions of all services are therefore
//   serialized. Consequence for callers: never wait on another pool or another service while holding a transaction
//   open (for example a gRPC call inside `knex.transaction`), or both wait until a deadline expires.
// - Outside a transaction block, messages of different sockets may interleave between statements. node-postgres corks
//   each query (Parse/Bind/Describe/Execute/Sync) into one write, which the server executes without yielding, so a
//   statement is not split in practice.
// - There is one session for everybody: `SET`, `search_path`, advisory locks and prepared-statement names are shared
//   by all connections. Hence tradeplane schema-qualifies every table instead of relying on `search_path`, and sets no
//   session state. LISTEN/NOTIFY is not forwarded to idle sockets either, so nothing relies on it.
// A small pool per service (see openDatabase) is enough: the backend runs one statement at a time anyway.
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";

/** Sockets the embedded server accepts at once: every service's pool plus migration and test connections. */
export const EMBEDDED_MAX_CONNECTIONS = 128;

export interface EmbeddedPostgresOptions {
  /** Directory of the database files, e.g. `.data/pg`; omitted means a throwaway in-memory database (tests). */
  dataDir?: string;
  /** TCP port on 127.0.0.1; 0 (the default) lets the system choose one. */
  port?: number;
}

export interface EmbeddedPostgres {
  /** Connection URL for knex/pg, e.g. `postgres://postgres@127.0.0.1:54321/postgres`. */
  url: string;
  /** Closes every client socket, the listener and the database; leaves no handles behind. */
  stop(): Promise<void>;
}

/** Starts PGlite behind a Postgres wire-protocol listener on 127.0.0.1. */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions = {}): Promise<EmbeddedPostgres> {
  const dataDir = options.dataDir === undefined ? undefined : resolve(options.dataDir);
  const releaseLock = dataDir === undefined ? () => undefined : lockDataDir(dataDir);
  let db: PGlite | undefined;
  let server: PGLiteSocketServer | undefined;
  try {
    if (dataDir !== undefined) mkdirSync(dataDir, { recursive: true });
    db = await PGlite.create(dataDir === undefined ? {} : { dataDir });
    server = new PGLiteSocketServer({
      db,
      host: "127.0.0.1",
      port: options.port ?? 0,
      maxConnections: EMBEDDED_MAX_CONNECTIONS,
    });
    await server.start();
  } catch (error) {
    await db?.close().catch(() => undefined);
    releaseLock();
    throw error;
  }
  const port = Number(server.getServerConn().split(":").at(-1));
  const runningDb = db;
  const runningServer = server;

  let stopping: Promise<void> | undefined;
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop() {
      stopping ??= (async () => {
        await runningServer.stop();
        // stop() detaches the client handlers without awaiting them, and a detach may still roll back a transaction
        // the client left open; let those run before the database goes away.
        await new Promise((resolveTurn) => setImmediate(resolveTurn));
        await runningDb.close();
        releaseLock();
      })();
      return stopping;
    },
  };
}

/**
 * PGlite has no postmaster.pid: two processes opening the same directory would corrupt it. A lock file beside the
 * directory holds the owner's pid; a lock left by a process that no longer runs is taken over.
 */
function lockDataDir(dataDir: string): () => void {
  const lockPath = `${dataDir}.lock`;
  mkdirSync(dirname(lockPath), { recursive: true });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockPath, "wx");
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(lockPath, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const owner = Number(readFileSync(lockPath, "utf8").trim());
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isRunning(owner)) {
        throw new Error(`embedded Postgres data directory ${dataDir} is in use by process ${owner}`);
      }
      if (owner === process.pid) {
        throw new Error(`embedded Postgres data directory ${dataDir} is already open in this process`);
      }
      rmSync(lockPath, { force: true });
    }
  }
  throw new Error(`could not lock embedded Postgres data directory ${dataDir}`);
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
