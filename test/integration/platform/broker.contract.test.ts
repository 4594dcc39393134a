// One contract for both brokers: the same assertions run against RabbitMQ (when AMQP_URL is set, when
// REQUIRE_REAL_SERVICES=1, or when a local RabbitMQ answers) and against the in-process broker. A consumer "crash"
// is `abort()`: the consumer stops without answering what it holds (for RabbitMQ, its channel closes unacked).
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { promisify } from "node:util";
import { connect } from "amqplib";
import { expect } from "chai";
import { createAmqpBroker, type AmqpBroker } from "../../../services/platform/broker-amqp";
import { createMemoryBroker, type MemoryBroker } from "../../../services/platform/broker-memory";
import { queueDeclarations } from "../../../services/platform/broker-topology";
import { PermanentMessageError, type Delivery, type QueueSpec } from "../../../services/platform/messaging";
import { waitForValue } from "../../support/eventually";

const REQUIRE_REAL = process.env.REQUIRE_REAL_SERVICES === "1";
const AMQP_URL = process.env.AMQP_URL ?? "amqp://guest:guest@127.0.0.1:5672";
const AMQP_REQUIRED = REQUIRE_REAL || process.env.AMQP_URL !== undefined;
const RUN = randomUUID().slice(0, 8);

type TestBroker = MemoryBroker | AmqpBroker;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A promise that stays pending until released: a handler "in the middle of its work". */
function gate(): { wait: Promise<void>; release(): void } {
  let release = (): void => undefined;
  const wait = new Promise<void>((resolve) => {
    release = resolve;
  });
  return { wait, release };
}

interface Variant {
  name: string;
  required: boolean;
  open(): Promise<TestBroker>;
  cleanup(specs: QueueSpec[]): Promise<void>;
}

const variants: Variant[] = [
  { name: "in-process broker", required: true, open: async () => createMemoryBroker(), cleanup: async () => undefined },
  {
    name: `RabbitMQ (${AMQP_URL.replace(/\/\/[^@]*@/, "//")})`,
    required: AMQP_REQUIRED,
    open: () =>
      createAmqpBroker({ url: AMQP_URL, publishTimeoutMs: 3_000, connectionName: `tradeplane-test-${RUN}`, startupRetries: 1 }),
    async cleanup(specs) {
      const connection = await connect(AMQP_URL);
      const channel = await connection.createChannel();
      for (const spec of specs) {
        for (const { queue } of queueDeclarations(spec)) await channel.deleteQueue(queue);
      }
      await connection.close();
    },
  },
];

describe("broker contract", () => {
  for (const variant of variants) {
    describe(variant.name, () => {
      let opened: TestBroker | undefined;
      const specs: QueueSpec[] = [];
      let count = 0;
      const broker = (): TestBroker => {
        if (opened === undefined) throw new Error("broker not opened");
        return opened;
      };
      /** A queue of its own for each test, bound to `<name>.*.created`, with short retry delays. */
      const queue = (overrides: Partial<QueueSpec> = {}): QueueSpec => {
        const name = `test.${RUN}.q${++count}`;
        const spec: QueueSpec = {
          name,
          bindings: [`${name}.*.created`],
          prefetch: 10,
          deliveryLimit: 3,
          retryDelaysMs: [50],
          ...overrides,
        };
        specs.push(spec);
        return spec;
      };
      const publish = (spec: QueueSpec, messageId: string, extra: { key?: string; headers?: Record<string, string> } = {}) =>
        broker().publish({
          routingKey: `${spec.name}.${extra.key ?? "order"}.created`,
          messageId,
          schemaVersion: 2,
          body: JSON.stringify({ id: messageId }),
          headers: extra.headers,
        });

      before(async function () {
        try {
          const candidate = await variant.open();
          await candidate.probe();
          opened = candidate;
        } catch (error) {
          if (variant.required) {
            throw new Error(`${variant.name} is required (AMQP_URL or REQUIRE_REAL_SERVICES=1) but unreachable: ${error}`);
          }
          console.warn(`    skipping ${variant.name}: not reachable and not required (${error})`);
          this.skip();
        }
      });

      after(async function () {
        this.timeout(20_000);
        if (opened === undefined) return;
        await opened.close();
        await variant.cleanup(specs);
      });

      it("delivers a published message with its id, schema version, routing key and headers, and forgets it once acked", async () => {
        const spec = queue();
        const seen: Delivery[] = [];
        const consumer = await broker().consume(spec, async (delivery) => {
          seen.push(delivery);
        });
        await publish(spec, "m-1", { headers: { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" } });
        await publish(spec, "m-ignored", { key: "order.not" }); // `order.not.created` does not match `*.created`
        await waitForValue("the delivery", () => seen[0]);
        await sleep(200);
        expect(seen).to.have.length(1);
        expect(seen[0]).to.deep.include({
          messageId: "m-1",
          routingKey: `${spec.name}.order.created`,
          schemaVersion: 2,
          body: JSON.stringify({ id: "m-1" }),
          attempt: 1,
        });
        expect(seen[0].headers).to.deep.equal({ traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" });
        await consumer.close();

        // Acked means gone: a new consumer of the queue gets nothing.
        const later: Delivery[] = [];
        const second = await broker().consume(spec, async (delivery) => {
          later.push(delivery);
        });
        await sleep(200);
        await second.close();
        expect(later).to.deep.equal([]);
      });

      it("keeps messages published to a declared queue until a consumer starts", async () => {
        const spec = queue();
        await broker().declare(spec);
        await publish(spec, "early");
        const seen: string[] = [];
        const consumer = await broker().consume(spec, async (delivery) => {
          seen.push(delivery.messageId);
        });
        await waitForValue("the early message", () => seen[0]);
        await consumer.close();
        expect(seen).to.deep.equal(["early"]);
      });

      it("redelivers what a consumer held when it stopped without answering (a crash)", async () => {
        const spec = queue();
        const stuck = gate();
        const first: Delivery[] = [];
        const crashing = await broker().consume(spec, async (delivery) => {
          first.push(delivery);
          await stuck.wait;
        });
        await publish(spec, "crash-1");
        await waitForValue("the first delivery", () => first[0]);
        await crashing.abort();

        const second: Delivery[] = [];
        const healthy = await broker().consume(spec, async (delivery) => {
          second.push(delivery);
        });
        await waitForValue("the redelivery", () => second[0]);
        stuck.release(); // the crashed handler finishing late must not ack or duplicate anything
        await sleep(200);
        await healthy.close();
        expect(second).to.have.length(1);
        expect(second[0]).to.deep.include({ messageId: "crash-1", attempt: 2 });
        expect(await broker().readDeadLetters(spec.name, 10)).to.deep.equal([]);
      });

      it("retries a failed delivery after delays that really wait and grow, then dead-letters it at the delivery limit", async () => {
        const spec = queue({ deliveryLimit: 3, retryDelaysMs: [100, 250] });
        const attempts: { attempt: number; atMs: number }[] = [];
        let failedAtMs = 0;
        const gaps: number[] = [];
        const consumer = await broker().consume(spec, async (delivery) => {
          const now = performance.now();
          if (attempts.length > 0) gaps.push(now - failedAtMs);
          attempts.push({ attempt: delivery.attempt, atMs: now });
          failedAtMs = performance.now();
          throw new Error("ledger unavailable");
        });
        await publish(spec, "retry-1", { headers: { tenant: "t1" } });
        const [letter] = await waitForValue("the dead letter", async () => {
          const letters = await broker().readDeadLetters(spec.name, 10);
          return letters.length > 0 ? letters : undefined;
        });
        await sleep(300);
        await consumer.close();

        expect(attempts.map((a) => a.attempt)).to.deep.equal([1, 2, 3]);
        // Each retry waited at least its delay after the failure (1 ms allowed for timer granularity).
        expect(gaps[0]).to.be.at.least(99);
        expect(gaps[1]).to.be.at.least(249);
        expect(letter).to.deep.include({
          queue: spec.name,
          messageId: "retry-1",
          routingKey: `${spec.name}.order.created`,
          schemaVersion: 2,
          body: JSON.stringify({ id: "retry-1" }),
          attempts: 3,
          kind: "retries-exhausted",
        });
        expect(letter.reason).to.contain("ledger unavailable");
        expect(letter.headers).to.deep.equal({ tenant: "t1" });
        expect(letter.deadLetteredAt).to.be.instanceOf(Date);
      });

      it("sends a message that fails permanently straight to the dead letter queue", async () => {
        const spec = queue({ deliveryLimit: 5 });
        let calls = 0;
        const consumer = await broker().consume(spec, async () => {
          calls++;
          throw new PermanentMessageError("unknown instrument ZZZ");
        });
        await publish(spec, "poison-1");
        const [letter] = await waitForValue("the dead letter", async () => {
          const letters = await broker().readDeadLetters(spec.name, 10);
          return letters.length > 0 ? letters : undefined;
        });
        await sleep(200);
        await consumer.close();
        expect(calls).to.equal(1);
        expect(letter).to.deep.include({ messageId: "poison-1", attempts: 1, kind: "permanent" });
        expect(letter.reason).to.contain("unknown instrument ZZZ");
      });

      it("dead-letters a message whose consumers keep stopping without answering, once the delivery limit is used", async () => {
        const spec = queue({ deliveryLimit: 2 });
        const stuck = gate();
        let handled = 0;
        for (let crash = 1; crash <= 2; crash++) {
          const crashing = await broker().consume(spec, async () => {
            handled++;
            await stuck.wait;
          });
          if (crash === 1) await publish(spec, "crash-loop");
          await waitForValue(`delivery ${crash}`, () => (handled === crash ? true : undefined));
          await crashing.abort();
        }
        const last = await broker().consume(spec, async () => {
          handled++;
        });
        const [letter] = await waitForValue("the dead letter", async () => {
          const letters = await broker().readDeadLetters(spec.name, 10);
          return letters.length > 0 ? letters : undefined;
        });
        stuck.release();
        await last.close();
        expect(handled).to.equal(2);
        expect(letter).to.deep.include({ messageId: "crash-loop", attempts: 2, kind: "delivery-limit" });
      });

      it("sends a dead letter back to its queue as a first attempt, and lets a DLQ consumer take dead letters", async () => {
        const spec = queue();
        let rejectNext = 2;
        const seen: Delivery[] = [];
        const consumer = await broker().consume(spec, async (delivery) => {
          seen.push(delivery);
          if (rejectNext-- > 0) throw new PermanentMessageError("missing price");
        });
        await publish(spec, "dl-1");
        await publish(spec, "dl-2");
        await waitForValue("two dead letters", async () => {
          const letters = await broker().readDeadLetters(spec.name, 10);
          return letters.length === 2 ? letters : undefined;
        });

        expect(await broker().republishDeadLetter(spec.name, "no-such-message")).to.equal(false);
        expect(await broker().republishDeadLetter(spec.name, "dl-1")).to.equal(true);
        await waitForValue("the republished message", () => seen.find((d) => d.messageId === "dl-1" && seen.indexOf(d) >= 2));
        const again = seen.filter((d) => d.messageId === "dl-1");
        expect(again.map((d) => d.attempt)).to.deep.equal([1, 1]);
        await consumer.close();

        const parked: Delivery[] = [];
        const dlqConsumer = await broker().consume(
          { name: `${spec.name}.dlq`, bindings: [], prefetch: 1, deliveryLimit: 1, retryDelaysMs: [50] },
          async (delivery) => {
            parked.push(delivery);
          },
        );
        await waitForValue("the dead letter delivery", () => parked[0]);
        await dlqConsumer.close();
        expect(parked).to.have.length(1);
        expect(parked[0]).to.deep.include({ messageId: "dl-2", routingKey: `${spec.name}.order.created`, schemaVersion: 2 });
        expect(parked[0].headers["x-failure-reason"]).to.contain("missing price");
        expect(parked[0].headers["x-failure-kind"]).to.equal("permanent");
        expect(await broker().readDeadLetters(spec.name, 10)).to.deep.equal([]);
      });

      it("shares a queue between competing consumers, each holding at most its prefetch", async () => {
        const spec = queue({ prefetch: 2 });
        const release = gate();
        const holding = [0, 0];
        const peak = [0, 0];
        const done: string[] = [];
        const consumers = await Promise.all(
          [0, 1].map((i) =>
            broker().consume(spec, async (delivery) => {
              holding[i]++;
              peak[i] = Math.max(peak[i], holding[i]);
              await release.wait;
              holding[i]--;
              done.push(delivery.messageId);
            }),
          ),
        );
        for (let i = 0; i < 6; i++) await publish(spec, `work-${i}`);
        await waitForValue("both consumers full", () => (holding[0] === 2 && holding[1] === 2 ? true : undefined));
        await sleep(100);
        expect(holding).to.deep.equal([2, 2]);
        release.release();
        await waitForValue("all six handled", () => (done.length === 6 ? true : undefined));
        await Promise.all(consumers.map((consumer) => consumer.close()));
        expect([...done].sort()).to.deep.equal(["work-0", "work-1", "work-2", "work-3", "work-4", "work-5"]);
        expect(Math.max(...peak)).to.equal(2);
      });

      it("refuses a message without an id", async () => {
        const error = await broker()
          .publish({ routingKey: "x.created", messageId: "", schemaVersion: 1, body: "{}" })
          .then(() => undefined, (e: unknown) => e);
        expect(error).to.be.instanceOf(RangeError);
      });
    });
  }

  describe("RabbitMQ connection loss", () => {
    let broker: AmqpBroker | undefined;
    const name = `tradeplane-test-drop-${RUN}`;
    const spec: QueueSpec = {
      name: `test.${RUN}.drop`,
      bindings: [`test.${RUN}.drop.#`],
      prefetch: 5,
      deliveryLimit: 5,
      retryDelaysMs: [50],
    };

    before(async function () {
      try {
        broker = await createAmqpBroker({ url: AMQP_URL, publishTimeoutMs: 3_000, connectionName: name, startupRetries: 1 });
      } catch (error) {
        if (AMQP_REQUIRED) throw new Error(`RabbitMQ is required (AMQP_URL or REQUIRE_REAL_SERVICES=1) but unreachable: ${error}`);
        console.warn(`    skipping connection loss: RabbitMQ not reachable and not required (${error})`);
        this.skip();
      }
      try {
        // The connection is dropped from the server side, which needs rabbitmqctl on this machine.
        await promisify(execFile)("rabbitmqctl", ["list_connections", "-q"], { timeout: 10_000 });
      } catch (error) {
        await broker?.close();
        broker = undefined;
        console.warn(`    skipping connection loss: rabbitmqctl cannot reach the broker (${error})`);
        this.skip();
      }
    });

    after(async function () {
      this.timeout(20_000);
      if (broker === undefined) return;
      await broker.close();
      const connection = await connect(AMQP_URL);
      const channel = await connection.createChannel();
      for (const { queue } of queueDeclarations(spec)) await channel.deleteQueue(queue);
      await connection.close();
    });

    it("reconnects by itself, resumes consumers, redelivers unacked messages, and times out publishes meanwhile", async function () {
      this.timeout(30_000);
      const seen: Delivery[] = [];
      const stuck = gate();
      const consumer = await broker!.consume(spec, async (delivery) => {
        seen.push(delivery);
        if (seen.length === 1) await stuck.wait; // the first delivery is in flight when the connection drops
      });
      await broker!.publish({ routingKey: `test.${RUN}.drop.a`, messageId: "before-drop", schemaVersion: 1, body: "{}" });
      await waitForValue("the first delivery", () => seen[0]);

      await closeConnectionNamed(name);
      await waitForValue("the broker to notice", () => broker!.probe().then(() => undefined, () => true));
      // While disconnected no confirm can arrive: publish must give up at its timeout rather than hang.
      const failed = await broker!
        .publish({ routingKey: `test.${RUN}.drop.a`, messageId: "during-drop", schemaVersion: 1, body: "{}" }, { timeoutMs: 30 })
        .then(() => undefined, (e: unknown) => e);
      expect(failed).to.be.instanceOf(Error);

      await waitForValue("the reconnection", () => broker!.probe().then(() => true, () => undefined), 15_000);
      await broker!.publish({ routingKey: `test.${RUN}.drop.b`, messageId: "after-drop", schemaVersion: 1, body: "{}" });
      await waitForValue("the redelivery and the new message", () =>
        seen.some((d) => d.messageId === "after-drop") && seen.filter((d) => d.messageId === "before-drop").length === 2 ? true : undefined,
      );
      stuck.release();
      await consumer.close();
      const redelivered = seen.filter((d) => d.messageId === "before-drop");
      expect(redelivered.map((d) => d.attempt)).to.deep.equal([1, 2]);
    });
  });
});

/** Closes, from the server side, the RabbitMQ connection a client opened under `connectionName`. */
async function closeConnectionNamed(connectionName: string): Promise<void> {
  const run = promisify(execFile);
  const { stdout } = await run("rabbitmqctl", ["list_connections", "pid", "client_properties", "-q"], { timeout: 10_000 });
  const line = stdout.split("\n").find((row) => row.includes(`"${connectionName}"`) || row.includes(connectionName));
  if (line === undefined) throw new Error(`no RabbitMQ connection named ${connectionName}`);
  await run("rabbitmqctl", ["close_connection", line.split("\t")[0], "connection loss test", "-q"], { timeout: 10_000 });
}
