// Embedded Postgres for `npm start` and `npm test` on a bare machine: PGlite (the real Postgres compiled to WASM) served
// on a local TCP port, so services reach it through exactly the same knex + pg code as a real server. Only the
// composition root chooses it, when DATABASE_URL is not set.
//
// Why our own small wire server instead of @electric-sql/pglite-socket: PGlite is a single Postgres backend, so every
// connection's messages must take turns on it, and pglite-socket takes turns per *message*. node-postgres sends each
// query as Parse, Bind, Describe, Execute, Sync, and between two of those another socket's Parse could run and replace
// the unnamed statement ("bind message supplies 16 parameters, but prepared statement "" requires 2", "unnamed
// prepared statement does not exist"). pglite-socket keeps one socket's messages together only inside an explicit
// transaction and offers no hook to change that. So here the turn is the unit the protocol defines:
// - A socket's messages are collected until Sync, Query, FunctionCall or Terminate (the points where a real backend
//   would report ReadyForQuery or stop) and the whole unit runs under one global lock, message by message in order.
//   Incomplete units are never started, so a client that disconnects halfway leaves nothing half-run.
// - After a unit ending in Flush (a client reading results before it sends Sync, e.g. pg cursors) the socket keeps the
//   lock: its unnamed statement and portal must survive until its Sync.
// - While PGlite reports an open transaction block after a unit, the socket keeps the lock until the block ends.
//   Transactions of all services are therefore serialized. Consequence for callers: never wait on another pool or
//   another service while holding a transaction open (for example a gRPC call inside `knex.transaction`), or both wait
//   until a deadline expires. A socket that goes away while holding the lock gets a ROLLBACK, then the lock passes on.
// - There is one session for everybody: `SET`, `search_path`, advisory locks and prepared-statement names are shared
//   by all connections. Hence tradeplane schema-qualifies every table instead of relying on `search_path`, sets no
//   session state, and prepares named statements only on a real server (`isEmbeddedPostgresVersion`). LISTEN/NOTIFY is not forwarded, so nothing relies on it;
//   COPY ... FROM STDIN, query cancellation and TLS are not supported either.
// A small pool per service (see openDatabase) is enough: the backend runs one statement at a time anyway.
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { dirname, resolve } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { errorResponse, WireSession } from "./embedded-postgres-wire";

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
  /** Closes every client socket (rolling back what they left open), the listener and the database; leaves no handles. */
  stop(): Promise<void>;
}

/**
 * True when the server that answered `select version()` is this embedded one (PGlite reports itself there). Its one
 * shared session cannot keep named prepared statements per connection, so callers prepare statements only on a real
 * PostgreSQL (see database.ts). Asking the server, not remembering which URLs are embedded, also holds for a process
 * that reaches an embedded server another process started (a benchmark's service process, say).
 */
export function isEmbeddedPostgresVersion(version: string): boolean {
  return version.includes("PGlite");
}

/** Starts PGlite behind a Postgres wire-protocol listener on 127.0.0.1. */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions = {}): Promise<EmbeddedPostgres> {
  const dataDir = options.dataDir === undefined ? undefined : resolve(options.dataDir);
  const releaseLock = dataDir === undefined ? () => undefined : lockDataDir(dataDir);
  let db: PGlite | undefined;
  let server: Server | undefined;
  const sessions = new Set<WireSession>();
  const refused = new Set<Socket>();
  try {
    if (dataDir !== undefined) mkdirSync(dataDir, { recursive: true });
    db = await PGlite.create(dataDir === undefined ? {} : { dataDir });
    const backend: Backend = { db, lock: new BackendLock() };
    server = createServer((socket) => {
      if (sessions.size >= EMBEDDED_MAX_CONNECTIONS) {
        refuse(socket, refused);
        return;
      }
      const session = new WireSession(socket, backend, () => sessions.delete(session));
      sessions.add(session);
    });
    await listen(server, options.port ?? 0);
  } catch (error) {
    server?.close();
    await db?.close().catch(() => undefined);
    releaseLock();
    throw error;
  }
  const port = (server.address() as { port: number }).port;
  const runningDb = db;
  const runningServer = server;

  let stopping: Promise<void> | undefined;
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop() {
      stopping ??= (async () => {
        const closed = new Promise<void>((resolveClose) => runningServer.close(() => resolveClose()));
        for (const socket of refused) socket.destroy();
        // Each session first lets its running unit finish and rolls back what it left open, so the database is idle
        // before it goes away.
        await Promise.all([...sessions].map((session) => session.close()));
        await closed;
        await runningDb.close();
        releaseLock();
      })();
      return stopping;
    },
  };
}

/**
 * Answers a connection over the limit the way Postgres does, with a FATAL error. The socket is kept until the client
 * has read it and closed: destroying a socket with unread input resets it, and the client could lose the error.
 */
function refuse(socket: Socket, refused: Set<Socket>): void {
  refused.add(socket);
  socket.on("error", () => undefined);
  socket.on("close", () => refused.delete(socket));
  socket.setTimeout(REFUSED_LINGER_MS, () => socket.destroy());
  socket.resume();
  socket.end(errorResponse("53300", "sorry, too many clients already"));
}

/** How long a refused client gets to read its error before its socket is closed anyway. */
const REFUSED_LINGER_MS = 2_000;

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolveListen, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      server.off("error", reject);
      resolveListen();
    });
  });
}

/** The one PGlite backend and the lock that lends it to one socket at a time (each socket's WireSession runs on it). */
export interface Backend {
  db: PGlite;
  lock: BackendLock;
}

/** A first-come first-served mutex: the one backend serves one unit, or one socket's transaction, at a time. */
class BackendLock {
  private held = false;
  private readonly waiters: Array<() => void> = [];

  acquire(): Promise<void> {
    if (!this.held) {
      this.held = true;
      return Promise.resolve();
    }
    return new Promise((resolveTurn) => this.waiters.push(resolveTurn));
  }

  release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.held = false;
  }
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
