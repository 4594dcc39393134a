import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { connect } from "amqplib";
import { expect } from "chai";
import { createAmqpBroker, type AmqpBroker } from "../../../services/platform/broker-amqp";
import { queueDeclarations } from "../../../services/platform/broker-topology";
import { createTestDatabase, openDatabase, type Database, type TestDatabase } from "../../../services/platform/database";
import type { Broker, Consumer, QueueSpec } from "../../../services/platform/messaging";
import { createOutboxTable, enqueue, startOutboxRelay, type OutboxRelay } from "../../../services/platform/outbox";
import { waitFor } from "../../support/eventually";

// The relay against a real RabbitMQ while the publishing connection is cut twice under load. Publishes in flight when
// the connection dies lose their confirms, so the relay publishes those rows again: the consumer deduplicates on the
// message id, as every tradeplane consumer does. Nothing may be missing, duplicates can only come from re-published
// rows, and every row ends up marked published.
const run = promisify(execFile);

/** The pid of the RabbitMQ connection whose client-provided name is `connectionName`, as rabbitmqctl prints it. */
async function connectionPid(connectionName: string): Promise<string> {
  const { stdout } = await run("rabbitmqctl", ["list_connections", "-q", "--no-table-headers", "pid", "client_properties"]);
  const pids = stdout
    .split("\n")
    .filter((line) => line.includes(`{"connection_name","${connectionName}"}`))
    .map((line) => line.split("\t")[0]);
  if (pids.length !== 1) throw new Error(`expected one connection named ${connectionName}, found ${pids.length}`);
  return pids[0];
}

/** Closes a connection from the server side, the way a broker restart or a network cut would. */
async function closeConnection(pid: string): Promise<void> {
  await run("rabbitmqctl", ["close_connection", pid, "outbox test: connection dropped"]);
}

/** The publisher reconnects on its own after a drop; its new connection has a new pid. */
async function waitForNewPid(connectionName: string, oldPid: string): Promise<string> {
  const until = Date.now() + 30_000;
  for (;;) {
    const pid = await connectionPid(connectionName).catch(() => undefined);
    if (pid !== undefined && pid !== oldPid) return pid;
    if (Date.now() > until) throw new Error(`${connectionName} did not reconnect`);
  }
}

/** `broker`, with every publish held `delayMs` before it starts; the publish timeout runs from then, as before. */
function paced(broker: Broker, delayMs: number): Broker {
  return {
    publish: async (message, options) => {
      await sleep(delayMs);
      return broker.publish(message, options);
    },
    consume: (queue, handler) => broker.consume(queue, handler),
    probe: () => broker.probe(),
    close: () => broker.close(),
  };
}

describe("platform outbox over RabbitMQ", function () {
  this.timeout(120_000);
  const amqpUrl = process.env.AMQP_URL;
  const tag = randomBytes(4).toString("hex");
  const schema = "svc_outbox_amqp";
  const spec: QueueSpec = {
    name: `test.outbox.${tag}`,
    bindings: [`test.outbox.${tag}`],
    prefetch: 200,
    deliveryLimit: 20,
    retryDelaysMs: [100],
  };
  let testDb: TestDatabase | undefined;
  let db: Database | undefined;
  let publisher: AmqpBroker | undefined;
  let subscriber: AmqpBroker | undefined;
  let consumer: Consumer | undefined;
  let relay: OutboxRelay | undefined;

  before(async function () {
    if (!amqpUrl) {
      if (process.env.REQUIRE_REAL_SERVICES === "1") throw new Error("REQUIRE_REAL_SERVICES=1 but AMQP_URL is not set");
      this.skip();
    }
    testDb = await createTestDatabase();
    db = await openDatabase({ url: testDb.url, schema, poolMax: 4 });
    await db.knex.transaction((trx) => createOutboxTable(trx, schema));
    publisher = await createAmqpBroker({ url: amqpUrl!, publishTimeoutMs: 2_000, connectionName: `outbox-test-pub-${tag}` });
    subscriber = await createAmqpBroker({ url: amqpUrl!, publishTimeoutMs: 2_000, connectionName: `outbox-test-sub-${tag}` });
  });

  after(async () => {
    await relay?.stop();
    await consumer?.close();
    await publisher?.close();
    await subscriber?.close();
    if (amqpUrl) {
      const connection = await connect(amqpUrl);
      const channel = await connection.createChannel();
      for (const { queue } of queueDeclarations(spec)) await channel.deleteQueue(queue);
      await connection.close();
    }
    await db?.close();
    await testDb?.drop();
  });

  it("delivers every row to the consumer and marks it published although the connection drops twice mid-run", async () => {
    const deliveries = new Map<string, number>();
    consumer = await subscriber!.consume(spec, async (delivery) => {
      deliveries.set(delivery.messageId, (deliveries.get(delivery.messageId) ?? 0) + 1);
    });
    // Two waves of 3,000 rows, each committed in one transaction. The relay publishes through a pace that holds each
    // publish 50 ms before handing it to RabbitMQ, so with batches of 10 and at most four rounds in flight it drains
    // under 800 rows a second on any machine, and a wave lasts about four seconds. rabbitmqctl closes a connection
    // within about half a second, so each drop lands while the relay is still publishing its wave; the test checks it
    // did. (Unpaced, a fast machine drained the first wave before the drop landed.)
    const total = 6_000;
    const ids = Array.from({ length: total }, (_, i) => `${tag}-${i}`);
    const commitWave = (wave: readonly string[]) =>
      db!.knex.transaction((trx) =>
        enqueue(
          trx,
          schema,
          wave.map((messageId) => ({ messageId, routingKey: spec.bindings[0], schemaVersion: 1, body: `"${messageId}"` })),
        ),
      );
    const publisherName = `outbox-test-pub-${tag}`;
    const firstPid = await connectionPid(publisherName);
    await commitWave(ids.slice(0, total / 2));
    relay = startOutboxRelay({
      knex: db!.knex,
      schema,
      broker: paced(publisher!, 50),
      batchSize: 10,
      pollIntervalMs: 50,
      // Short, so that publishes caught by an outage fail and are retried rather than wait out the reconnect.
      publishTimeoutMs: 100,
      maxBackoffMs: 500,
    });

    await waitFor(() => deliveries.size >= 300, 30_000, "the first deliveries");
    await closeConnection(firstPid);
    const deliveredAtFirstDrop = deliveries.size;
    expect(deliveredAtFirstDrop, `first drop landed after ${deliveredAtFirstDrop} deliveries`).to.be.below(total / 2);
    const secondPid = await waitForNewPid(publisherName, firstPid);

    await commitWave(ids.slice(total / 2));
    relay.kick();
    await closeConnection(secondPid);
    const deliveredAtSecondDrop = deliveries.size;
    expect(deliveredAtSecondDrop, `second drop landed after ${deliveredAtSecondDrop} deliveries`).to.be.below(total);

    const table = `${schema}.outbox`;
    const unpublished = async () =>
      Number((await db!.knex.raw("select count(*) from ?? where published_at is null", [table])).rows[0].count);
    await waitFor(async () => (await unpublished()) === 0, 60_000, "every row marked published");
    // Confirmed means routed to the queue; give the consumer a moment to take the last ones, then list what is missing.
    await waitFor(() => deliveries.size === total, 10_000, "the last deliveries").catch(() => undefined);

    const missing = ids.filter((id) => !deliveries.has(id));
    const duplicateDeliveries = [...deliveries.values()].reduce((sum, n) => sum + n - 1, 0);
    const [stats] = (
      await db!.knex.raw(
        `select count(*)::int as rows, count(published_at)::int as published,
                coalesce(sum(attempts - 1), 0)::int as republished, count(*) filter (where attempts > 1)::int as retried
         from ??`,
        [table],
      )
    ).rows;

    expect(missing, "message ids never delivered").to.deep.equal([]);
    expect(stats.rows).to.equal(total);
    expect(stats.published).to.equal(total);
    expect(stats.retried, "rows whose publish the dropped connection interrupted").to.be.above(0);
    // A consumer only sees a message twice when the relay published it twice, after a lost confirm.
    expect(duplicateDeliveries, `duplicate deliveries (${duplicateDeliveries}) within re-publishes`).to.be.at.most(
      stats.republished,
    );
  });
});
