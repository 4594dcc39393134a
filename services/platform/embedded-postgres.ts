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

interface Backend {
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

// Message codes of the untyped messages a client may send before its startup message (protocol "Message Formats").
const SSL_REQUEST_CODE = 80877103;
const GSSENC_REQUEST_CODE = 80877104;
const CANCEL_REQUEST_CODE = 80877102;
/** A startup packet is small; anything larger is garbage, not a reason to buffer without bound. */
const MAX_STARTUP_LENGTH = 10_000;

/** How a unit of messages ends, which decides whether the socket may keep the backend afterwards. */
type UnitEnd = "startup" | "ready" | "flush" | "terminate";

interface Unit {
  messages: Buffer[];
  end: UnitEnd;
}

/** Typed frontend messages after which the backend reports ReadyForQuery: the end of an exchange. */
const READY_AFTER = new Set(["S", "Q", "F"]);

/** One client socket: cuts its byte stream into protocol units and runs them one after another on the backend. */
class WireSession {
  private buffered: Buffer = Buffer.alloc(0);
  private started = false;
  private unit: Buffer[] = [];
  /** Units run strictly in order; this chain never rejects. */
  private work: Promise<void> = Promise.resolve();
  private holdsLock = false;
  /** The last unit run ended in Flush: an extended-protocol batch is open until the client's Sync. */
  private inBatch = false;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly socket: Socket,
    private readonly backend: Backend,
    private readonly onClosed: () => void,
  ) {
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.receive(chunk));
    // A reset or a failed write ends the session like a close does; the error itself says nothing more.
    socket.on("error", () => void this.close());
    socket.on("close", () => void this.close());
  }

  /** Ends the session: the running unit finishes, later ones are dropped, an open transaction is rolled back. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.socket.destroy();
      await this.work;
      try {
        await this.releaseBackend();
      } catch {
        // Only PGlite itself failing gets here (the lock is released regardless); the next unit run reports that
        // failure to its own client, while nobody is left to tell on this socket.
      } finally {
        this.onClosed();
      }
    })();
    return this.closing;
  }

  private receive(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    let offset = 0;
    while (this.closing === undefined) {
      const length = this.nextMessageLength(offset);
      if (length === undefined || this.buffered.length - offset < length) break;
      this.take(this.buffered.subarray(offset, offset + length));
      offset += length;
    }
    this.buffered = this.buffered.subarray(offset);
  }

  /** Byte length of the message at `offset`, undefined while its header is incomplete; closes on garbage. */
  private nextMessageLength(offset: number): number | undefined {
    const available = this.buffered.length - offset;
    if (!this.started) {
      // Before startup, messages have no type byte: int32 length (itself included), int32 code or protocol version.
      if (available < 8) return undefined;
      const length = this.buffered.readInt32BE(offset);
      if (length >= 8 && length <= MAX_STARTUP_LENGTH) return length;
    } else {
      if (available < 5) return undefined;
      const length = this.buffered.readInt32BE(offset + 1);
      if (length >= 4) return 1 + length;
    }
    void this.close();
    return undefined;
  }

  private take(message: Buffer): void {
    if (!this.started) {
      const code = message.readInt32BE(4);
      if (code === SSL_REQUEST_CODE || code === GSSENC_REQUEST_CODE) {
        this.socket.write("N"); // no encryption: the client goes on in plain text (or gives up, if it requires it)
      } else if (code === CANCEL_REQUEST_CODE) {
        void this.close(); // cancellation is not supported; a real server also closes a cancel request's socket
      } else {
        this.started = true;
        this.enqueue({ messages: [message], end: "startup" });
      }
      return;
    }
    const type = String.fromCharCode(message[0]);
    if (type === "X") {
      this.enqueue({ messages: this.unit, end: "terminate" });
      this.unit = [];
      return;
    }
    this.unit.push(message);
    if (READY_AFTER.has(type) || type === "H") {
      this.enqueue({ messages: this.unit, end: type === "H" ? "flush" : "ready" });
      this.unit = [];
    }
  }

  private enqueue(unit: Unit): void {
    this.work = this.work.then(() => this.run(unit)).catch(() => void this.close());
  }

  private async run(unit: Unit): Promise<void> {
    if (!this.holdsLock) {
      await this.backend.lock.acquire();
      this.holdsLock = true;
    }
    if (this.closing !== undefined) return; // close() rolls back and releases once this chain is done
    const { db } = this.backend;
    await db.runExclusive(async () => {
      for (const [index, message] of unit.messages.entries()) {
        await db.execProtocolRawStream(message, {
          // Files are synced once per unit: nothing else reads them in between.
          syncToFs: index === unit.messages.length - 1,
          // PGlite reuses its output buffer, so the bytes are copied before the socket queues them.
          onRawData: (data) => {
            if (this.closing === undefined && data.length > 0) this.socket.write(Buffer.from(data));
          },
        });
      }
    });
    if (unit.end === "terminate") {
      void this.close(); // Terminate carries no reply; close() rolls back a transaction the client left open
      return;
    }
    if (unit.end === "flush") this.inBatch = true;
    else if (unit.end === "ready") this.inBatch = false;
    if (!this.inBatch && !db.isInTransaction()) {
      this.holdsLock = false;
      this.backend.lock.release();
    }
  }

  /** Leaves the backend as a new unit expects it (no batch, no transaction block) and passes the lock on. */
  private async releaseBackend(): Promise<void> {
    if (!this.holdsLock) return;
    const { db } = this.backend;
    try {
      await db.runExclusive(async () => {
        const discard = { onRawData: () => undefined };
        // In a batch, a Query aborts the batch's implicit transaction (while a failed batch skips it until Sync), and
        // Sync then ends the batch without committing anything.
        if (this.inBatch) {
          await db.execProtocolRawStream(simpleQuery("ROLLBACK"), discard);
          await db.execProtocolRawStream(Buffer.from([0x53, 0, 0, 0, 4]), discard);
        }
        if (db.isInTransaction()) await db.execProtocolRawStream(simpleQuery("ROLLBACK"), discard);
      });
    } finally {
      this.holdsLock = false;
      this.inBatch = false;
      this.backend.lock.release();
    }
  }
}

/** A Query ('Q') message. */
function simpleQuery(sql: string): Buffer {
  const text = Buffer.from(`${sql}\0`, "utf8");
  const header = Buffer.from([0x51, 0, 0, 0, 0]);
  header.writeInt32BE(4 + text.length, 1);
  return Buffer.concat([header, text]);
}

/** A FATAL ErrorResponse ('E'), for refusing a connection before it reaches the backend. */
function errorResponse(sqlState: string, text: string): Buffer {
  const fields = Buffer.from(`SFATAL\0VFATAL\0C${sqlState}\0M${text}\0\0`, "utf8");
  const header = Buffer.from([0x45, 0, 0, 0, 0]);
  header.writeInt32BE(4 + fields.length, 1);
  return Buffer.concat([header, fields]);
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
