import { expect } from "chai";
import { createTestDatabase, openDatabase, type Database, type TestDatabase } from "../../../services/platform/database";
import type { Broker, OutgoingMessage } from "../../../services/platform/messaging";
import {
  createOutboxTable,
  enqueue,
  startOutboxRelay,
  type OutboxRelay,
  type OutboxRelayOptions,
} from "../../../services/platform/outbox";
import { waitFor } from "../../support/eventually";

// The relay's contract, on the embedded server and (when DATABASE_URL is set) on a real Postgres, with a broker that
// records what it was asked to publish. outbox-rabbitmq.test.ts runs it against a real RabbitMQ.
const backends: { name: string; create: () => Promise<TestDatabase> }[] = [
  { name: "embedded PGlite", create: () => createTestDatabase({ env: {} }) },
];
if (process.env.DATABASE_URL) {
  const baseUrl = process.env.DATABASE_URL;
  backends.push({ name: "real Postgres", create: () => createTestDatabase({ baseUrl }) });
} else if (process.env.REQUIRE_REAL_SERVICES === "1") {
  throw new Error("REQUIRE_REAL_SERVICES=1 but DATABASE_URL is not set");
}

/** A broker that records confirmed publishes; `refuse` decides which attempts fail. */
function recordingBroker(refuse: (message: OutgoingMessage, attempt: number) => boolean = () => false) {
  const published: OutgoingMessage[] = [];
  const attempts = new Map<string, number>();
  const broker: Broker = {
    async publish(message) {
      const attempt = (attempts.get(message.messageId) ?? 0) + 1;
      attempts.set(message.messageId, attempt);
      await new Promise((resolve) => setImmediate(resolve));
      if (refuse(message, attempt)) throw new Error(`broker refused ${message.messageId}`);
      published.push(message);
    },
    consume: () => Promise.reject(new Error("not used")),
    probe: () => Promise.resolve(),
    close: () => Promise.resolve(),
  };
  return { broker, published, attempts };
}

function message(id: string, extra: Partial<OutgoingMessage> = {}): OutgoingMessage {
  return { messageId: id, routingKey: "orders.execute", schemaVersion: 1, body: JSON.stringify({ id }), ...extra };
}

const RELAY_DEFAULTS = { batchSize: 100, pollIntervalMs: 50, publishTimeoutMs: 2_000, maxBackoffMs: 400 };

describe("platform outbox", function () {
  this.timeout(60_000);

  for (const backend of backends) {
    describe(backend.name, () => {
      let testDb: TestDatabase;
      let db: Database;
      let schemaCount = 0;
      const relays: OutboxRelay[] = [];

      async function freshSchema(): Promise<string> {
        const schema = `svc_outbox_${++schemaCount}`;
        await db.knex.raw("create schema ??", [schema]);
        await db.knex.transaction((trx) => createOutboxTable(trx, schema));
        return schema;
      }

      function relay(schema: string, broker: Broker, options: Partial<OutboxRelayOptions> = {}) {
        const started = startOutboxRelay({ knex: db.knex, schema, broker, ...RELAY_DEFAULTS, ...options });
        relays.push(started);
        return started;
      }

      async function rows(schema: string) {
        return db.knex.withSchema(schema).from("outbox").orderBy("id").select();
      }

      before(async () => {
        testDb = await backend.create();
        db = await openDatabase({ url: testDb.url, schema: "svc_outbox", poolMax: 6 });
      });

      afterEach(async () => {
        await Promise.all(relays.splice(0).map((r) => r.stop()));
      });

      after(async () => {
        await db?.close();
        await testDb?.drop();
      });

      it("publishes only messages whose transaction committed, in enqueue order, and marks them published", async () => {
        const schema = await freshSchema();
        await db.knex.transaction((trx) =>
          enqueue(trx, schema, [
            message("m-1", { headers: { traceparent: "00-abc-def-01" } }),
            message("m-2", { routingKey: "fills.created", schemaVersion: 2 }),
            message("m-3"),
          ]),
        );
        await db.knex
          .transaction(async (trx) => {
            await enqueue(trx, schema, [message("rolled-back-1"), message("rolled-back-2")]);
            throw new Error("business rule failed");
          })
          .catch(() => undefined);

        const { broker, published } = recordingBroker();
        relay(schema, broker);
        await waitFor(() => published.length >= 3, 5_000, "three publishes");

        expect(published).to.deep.equal([
          { ...message("m-1"), headers: { traceparent: "00-abc-def-01" } },
          { ...message("m-2", { routingKey: "fills.created", schemaVersion: 2 }), headers: {} },
          { ...message("m-3"), headers: {} },
        ]);
        await waitFor(async () => (await rows(schema)).every((row) => row.published_at !== null), 5_000, "marks");
        const stored = await rows(schema);
        expect(stored.map((row) => [row.message_id, row.attempts, row.last_error])).to.deep.equal([
          ["m-1", 1, null],
          ["m-2", 1, null],
          ["m-3", 1, null],
        ]);
        expect(stored[0].published_at).to.be.instanceOf(Date);
      });

      it("publishes right after kick() instead of waiting for the next poll", async () => {
        const schema = await freshSchema();
        const { broker, published } = recordingBroker();
        const started = relay(schema, broker, { pollIntervalMs: 60_000 });
        await new Promise((resolve) => setTimeout(resolve, 100)); // let the first, empty round finish

        await db.knex.transaction((trx) => enqueue(trx, schema, [message("kicked")]));
        const kickedAt = Date.now();
        started.kick();
        await waitFor(() => published.length === 1, 2_000, "the kicked publish");
        expect(Date.now() - kickedAt).to.be.below(1_000);
      });

      it("publishes handed-off messages at once and marks them, with no claim by the relay", async () => {
        const schema = await freshSchema();
        const { broker, published, attempts } = recordingBroker();
        // Polling once a minute: only the hand-off can publish within this test.
        const started = relay(schema, broker, { pollIntervalMs: 60_000 });
        await new Promise((resolve) => setTimeout(resolve, 100)); // let the first, empty round finish
        const handed = [message("h-1"), message("h-2", { headers: { traceparent: "00-abc-def-01" } })];
        await db.knex.transaction((trx) => enqueue(trx, schema, handed, { leasedForMs: started.handOffLeaseMs }));
        started.handOff(handed);

        await waitFor(async () => (await rows(schema)).every((row) => row.published_at !== null), 5_000, "marks");
        expect(published.map((m) => m.messageId)).to.deep.equal(["h-1", "h-2"]);
        expect(published[1].headers).to.deep.equal({ traceparent: "00-abc-def-01" });
        expect([...attempts.values()]).to.deep.equal([1, 1]);
        const stored = await rows(schema);
        expect(stored.map((row) => [row.message_id, row.attempts, row.last_error])).to.deep.equal([
          ["h-1", 1, null],
          ["h-2", 1, null],
        ]);
        // The relay's next rounds find nothing to publish again.
        started.kick();
        await new Promise((resolve) => setTimeout(resolve, 300));
        expect(published).to.have.length(2);
      });

      it("leaves a refused hand-off to the relay's retries", async () => {
        const schema = await freshSchema();
        const { broker, published } = recordingBroker((m, attempt) => attempt === 1);
        const started = relay(schema, broker);
        const handed = [message("refused-once")];
        await db.knex.transaction((trx) => enqueue(trx, schema, handed, { leasedForMs: started.handOffLeaseMs }));
        started.handOff(handed);

        await waitFor(() => published.length === 1, 10_000, "the relay's retry");
        await waitFor(async () => (await rows(schema))[0].published_at !== null, 5_000, "the retried mark");
        const [row] = await rows(schema);
        // One attempt by the hand-off, one by the relay's claim.
        expect([row.attempts, row.last_error]).to.deep.equal([2, null]);
      });

      it("publishes the rows of a writer that never handed them off once their lease runs out", async () => {
        const schema = await freshSchema();
        const { broker, published } = recordingBroker();
        const started = relay(schema, broker, { handOffLeaseMs: 2_500 });
        // The writer commits and dies before calling handOff.
        await db.knex.transaction((trx) => enqueue(trx, schema, [message("orphan")], { leasedForMs: started.handOffLeaseMs }));
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        expect(published, "still leased to its writer").to.have.length(0);
        await waitFor(() => published.length === 1, 5_000, "the publish after the lease");
        expect(published[0].messageId).to.equal("orphan");
      });

      it("refuses a hand-off lease that does not outlast the publish timeout", () => {
        expect(() => startOutboxRelay({ knex: db.knex, schema: "svc_outbox", broker: recordingBroker().broker, ...RELAY_DEFAULTS, handOffLeaseMs: 2_000 })).to.throw(
          /handOffLeaseMs \(2000\) must exceed publishTimeoutMs \(2000\)/,
        );
      });

      it("records a failed publish and retries it with backoff until the broker confirms it", async () => {
        const schema = await freshSchema();
        await db.knex.transaction((trx) => enqueue(trx, schema, [message("flaky"), message("steady")]));
        const { broker, published } = recordingBroker((m, attempt) => m.messageId === "flaky" && attempt <= 2);
        relay(schema, broker);

        await waitFor(async () => (await rows(schema))[0].last_error !== null, 5_000, "a recorded failure");
        const [failing] = await rows(schema);
        expect(failing.published_at).to.equal(null);
        expect(failing.last_error).to.contain("broker refused flaky");

        await waitFor(() => published.length === 2, 10_000, "the retried publish");
        expect(published.map((m) => m.messageId)).to.deep.equal(["steady", "flaky"]);
        await waitFor(async () => (await rows(schema))[0].published_at !== null, 5_000, "the retried mark");
        const [recovered, steady] = await rows(schema);
        expect([recovered.attempts, recovered.last_error]).to.deep.equal([3, null]);
        expect(steady.attempts).to.equal(1);
      });

      it("never lets two relays publish the same row", async () => {
        const schema = await freshSchema();
        const ids = Array.from({ length: 600 }, (_, i) => `pair-${i}`);
        await db.knex.transaction((trx) => enqueue(trx, schema, ids.map((id) => message(id))));

        const first = recordingBroker();
        const second = recordingBroker();
        relay(schema, first.broker, { batchSize: 25 });
        relay(schema, second.broker, { batchSize: 25 });
        const all = () => [...first.published, ...second.published];
        await waitFor(() => all().length >= ids.length, 20_000, "every publish");
        await new Promise((resolve) => setTimeout(resolve, 200)); // a duplicate would arrive by now

        const published = all();
        expect(first.published.length, "rows published by the first relay").to.be.above(0);
        expect(second.published.length, "rows published by the second relay").to.be.above(0);
        expect(published).to.have.length(ids.length);
        expect(new Set(published.map((m) => m.messageId)).size).to.equal(ids.length);
        await waitFor(
          async () => (await rows(schema)).every((row) => row.published_at !== null && row.attempts === 1),
          5_000,
          "every row marked once",
        );
      });

      it("rejects a message id already in the outbox and rolls the business transaction back", async () => {
        const schema = await freshSchema();
        await db.knex.transaction((trx) => enqueue(trx, schema, [message("once")]));
        let failure: unknown;
        await db.knex
          .transaction(async (trx) => {
            await trx.raw("create table ?? (id int)", [`${schema}.business`]);
            await enqueue(trx, schema, [message("again"), message("once")]);
          })
          .catch((error) => (failure = error));
        expect(String(failure)).to.contain("duplicate key");
        expect((await rows(schema)).map((row) => row.message_id)).to.deep.equal(["once"]);
        const [{ exists }] = (await db.knex.raw("select to_regclass(?) is not null as exists", [`${schema}.business`])).rows;
        expect(exists).to.equal(false);
      });

      it("publishes recently published rows again at start when asked to replay a window", async () => {
        const schema = await freshSchema();
        await db.knex.transaction((trx) => enqueue(trx, schema, [message("long-ago"), message("recent")]));
        const before = recordingBroker();
        relay(schema, before.broker);
        await waitFor(async () => (await rows(schema)).every((row) => row.published_at !== null), 5_000, "marks");
        await Promise.all(relays.splice(0).map((r) => r.stop()));
        await db.knex.raw("update ?? set published_at = now() - interval '1 hour' where message_id = 'long-ago'", [
          `${schema}.outbox`,
        ]);

        const after = recordingBroker();
        relay(schema, after.broker, { replayWindowMs: 60_000 });
        await waitFor(() => after.published.length === 1, 5_000, "the replay");
        await new Promise((resolve) => setTimeout(resolve, 200));
        expect(after.published.map((m) => m.messageId)).to.deep.equal(["recent"]);
      });

      it("prunes published rows after the retention period and keeps unpublished ones", async () => {
        const schema = await freshSchema();
        await db.knex.transaction((trx) => enqueue(trx, schema, [message("old"), message("stuck")]));
        const { broker, published } = recordingBroker((m) => m.messageId === "stuck");
        relay(schema, broker, { maxBackoffMs: 60_000 });
        await waitFor(() => published.length === 1, 5_000, "the publish");
        await Promise.all(relays.splice(0).map((r) => r.stop()));

        relay(schema, broker, { retentionMs: 1, pruneIntervalMs: 1 });
        await waitFor(async () => (await rows(schema)).length === 1, 5_000, "the prune");
        expect((await rows(schema)).map((row) => [row.message_id, row.published_at])).to.deep.equal([["stuck", null]]);
      });
    });
  }
});
