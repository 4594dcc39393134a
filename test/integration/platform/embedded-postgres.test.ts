// The embedded server under the load the services really put on it: several pg pools at once (one per service plus
// tests), each query an extended-protocol sequence of several messages. Always runs on its own embedded instance,
// even when DATABASE_URL points the rest of the run at a real server, because what is tested is the embedded server.
import { connect, type Socket } from "node:net";
import { expect } from "chai";
import { Client, Pool } from "pg";
import { startEmbeddedPostgres, type EmbeddedPostgres } from "../../../services/platform/embedded-postgres";

const POOLS = 4;
const CONNECTIONS_PER_POOL = 5;

/** `select $1::int + $2::int + ...` over `count` parameters: statements of different shapes and parameter counts. */
function sumQuery(count: number): { text: string; values: number[]; expected: number } {
  const values = Array.from({ length: count }, (_, i) => i + count);
  const text = `select ${values.map((_, i) => `$${i + 1}::int`).join(" + ")} as total`;
  return { text, values, expected: values.reduce((sum, value) => sum + value, 0) };
}

/** One frontend message: type byte, int32 length (itself included), body. */
function message(type: string, body: Buffer = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(5);
  header.write(type, 0, "latin1");
  header.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}

function cstring(text: string): Buffer {
  return Buffer.from(`${text}\0`, "utf8");
}

/** A raw protocol client, for message sequences node-postgres never sends (Flush without Sync, then disconnect). */
async function rawConnect(url: string): Promise<Socket> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  const params = Buffer.concat([cstring("user"), cstring("postgres"), cstring("database"), cstring("postgres"), Buffer.from([0])]);
  const startup = Buffer.alloc(8);
  startup.writeInt32BE(8 + params.length, 0);
  startup.writeInt32BE(196608, 4);
  await written(socket, Buffer.concat([startup, params]));
  await responseContaining(socket, "Z");
  return socket;
}

function written(socket: Socket, data: Buffer): Promise<void> {
  return new Promise((resolve, reject) => socket.write(data, (error) => (error ? reject(error) : resolve())));
}

/** Resolves once the server has sent a message of the given type (checked on message boundaries). */
function responseContaining(socket: Socket, type: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let buffered = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      let offset = 0;
      while (offset + 5 <= buffered.length) {
        if (String.fromCharCode(buffered[offset]) === type) {
          socket.off("data", onData);
          resolve();
          return;
        }
        offset += 1 + buffered.readInt32BE(offset + 1);
      }
    };
    socket.on("data", onData);
    socket.once("error", reject);
  });
}

describe("embedded Postgres under concurrent connections", () => {
  let embedded: EmbeddedPostgres;
  let pools: Pool[] = [];

  before(async function () {
    this.timeout(60_000);
    embedded = await startEmbeddedPostgres();
    pools = Array.from({ length: POOLS }, () => new Pool({ connectionString: embedded.url, max: CONNECTIONS_PER_POOL }));
    await pools[0].query("create table public.counters (id int primary key, value int not null)");
    await pools[0].query("create table public.journal (id text primary key)");
  });

  after(async function () {
    this.timeout(30_000);
    await Promise.all(pools.map((pool) => pool.end()));
    await embedded?.stop();
  });

  it("answers thousands of concurrent parameterized queries from several pools, each with its own parameters", async function () {
    this.timeout(60_000);
    const queries = Array.from({ length: 2_000 }, (_, i) => ({ pool: pools[i % POOLS], ...sumQuery(1 + (i % 16)) }));
    const totals = await Promise.all(queries.map(({ pool, text, values }) => pool.query(text, values)));
    expect(totals.map((result) => Number(result.rows[0].total))).to.deep.equal(queries.map((query) => query.expected));
  });

  it("keeps concurrent explicit transactions whole: every committed increment counts, no rolled-back one does", async function () {
    this.timeout(60_000);
    const counterIds = [1, 2, 3];
    await pools[0].query("insert into public.counters (id, value) select id, 0 from unnest($1::int[]) as id", [counterIds]);
    const transactions = Array.from({ length: 120 }, (_, i) => ({ id: counterIds[i % counterIds.length], commit: i % 4 !== 0 }));

    const incrementAll = transactions.map(async ({ id, commit }, i) => {
      const client = await pools[i % POOLS].connect();
      try {
        await client.query("begin");
        // Read, then write what was read plus one: a lost update would show if another socket's statements ran in
        // between, since PGlite has one backend and no row locks between sessions.
        const { rows } = await client.query("select value from public.counters where id = $1", [id]);
        await client.query("update public.counters set value = $2 where id = $1", [id, rows[0].value + 1]);
        await client.query(commit ? "commit" : "rollback");
      } finally {
        client.release();
      }
    });
    // Plain queries from the same pools run alongside and must neither fail nor see a half-done transaction.
    const readers = Array.from({ length: 600 }, (_, i) => pools[i % POOLS].query(sumQuery(1 + (i % 7)).text, sumQuery(1 + (i % 7)).values));
    await Promise.all([...incrementAll, ...readers]);

    const { rows } = await pools[1].query("select id, value from public.counters order by id");
    const committed = counterIds.map((id) => transactions.filter((t) => t.id === id && t.commit).length);
    expect(rows).to.deep.equal(counterIds.map((id, i) => ({ id, value: committed[i] })));
  });

  it("rolls back the transaction of a client that disconnects mid-transaction and serves the others", async function () {
    this.timeout(20_000);
    const leaver = new Client({ connectionString: embedded.url });
    leaver.on("error", () => undefined); // the abrupt close below is the point of the test
    await leaver.connect();
    await leaver.query("begin");
    await leaver.query("insert into public.journal (id) values ('left-open')");
    // Other pools queue behind the open transaction ...
    const waiting = pools[2].query("select count(*)::int as n from public.journal where id = 'left-open'");
    // ... until its socket goes away without COMMIT, ROLLBACK or Terminate.
    (leaver as unknown as { connection: { stream: Socket } }).connection.stream.destroy();

    const { rows } = await waiting;
    expect(rows[0].n).to.equal(0);
    const { rows: after } = await pools[3].query("select count(*)::int as n from public.journal");
    expect(after[0].n).to.equal(0);
  });

  it("rolls back an unfinished extended-protocol batch of a client that disconnects after Flush", async function () {
    this.timeout(20_000);
    const socket = await rawConnect(embedded.url);
    const insert = "insert into public.journal (id) values ('flushed-not-synced')";
    const parse = message("P", Buffer.concat([cstring(""), cstring(insert), Buffer.from([0, 0])]));
    const bind = message("B", Buffer.concat([cstring(""), cstring(""), Buffer.from([0, 0, 0, 0, 0, 0])]));
    const execute = message("E", Buffer.concat([cstring(""), Buffer.from([0, 0, 0, 0])]));
    await written(socket, Buffer.concat([parse, bind, execute, message("H")]));
    await responseContaining(socket, "C"); // the insert ran and its result was flushed, but no Sync ended it
    const waiting = pools[0].query("select count(*)::int as n from public.journal where id = 'flushed-not-synced'");
    socket.destroy();

    const { rows } = await waiting;
    expect(rows[0].n).to.equal(0);
  });

  it("serves a client that closes cleanly in the middle of a transaction, then the others", async function () {
    this.timeout(20_000);
    const leaver = new Client({ connectionString: embedded.url });
    await leaver.connect();
    await leaver.query("begin");
    await leaver.query("insert into public.journal (id) values ('ended-open')");
    const waiting = pools[1].query("select count(*)::int as n from public.journal where id = 'ended-open'");
    await leaver.end(); // sends Terminate with the transaction still open

    const { rows } = await waiting;
    expect(rows[0].n).to.equal(0);
  });
});
