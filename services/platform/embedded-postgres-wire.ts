// The per-socket side of the embedded Postgres server (embedded-postgres.ts): a WireSession cuts one client's byte
// stream into protocol units and runs them in order on the shared PGlite backend under the backend lock, plus the
// few protocol messages the server writes itself (a Query, a FATAL ErrorResponse). Why the unit is the turn, and when
// a socket keeps the lock after it, is explained at the top of embedded-postgres.ts.
import type { Socket } from "node:net";
import type { Backend } from "./embedded-postgres";

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
export class WireSession {
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
export function errorResponse(sqlState: string, text: string): Buffer {
  const fields = Buffer.from(`SFATAL\0VFATAL\0C${sqlState}\0M${text}\0\0`, "utf8");
  const header = Buffer.from([0x45, 0, 0, 0, 0]);
  header.writeInt32BE(4 + fields.length, 1);
  return Buffer.concat([header, fields]);
}
