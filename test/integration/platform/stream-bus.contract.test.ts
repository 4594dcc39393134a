// One contract for both stream buses: the same assertions run against Redis Streams (when REDIS_URL is set, when
// REQUIRE_REAL_SERVICES=1, or when a local Redis answers) and against the in-process ring buffers.
import { randomUUID } from "node:crypto";
import { expect } from "chai";
import { Redis } from "ioredis";
import type { StreamBus, StreamEntry } from "../../../services/platform/messaging";
import { createMemoryStreamBus } from "../../../services/platform/stream-bus-memory";
import { createRedisStreamBus } from "../../../services/platform/stream-bus-redis";
import { waitFor } from "../../support/eventually";

const REQUIRE_REAL = process.env.REQUIRE_REAL_SERVICES === "1";
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const REDIS_REQUIRED = REQUIRE_REAL || process.env.REDIS_URL !== undefined;
const RETENTION = 10;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until `condition` holds, polling; fails with `what` after `timeoutMs`. */
interface Variant {
  name: string;
  required: boolean;
  /** Opens the bus under test; `peer()` opens another one sharing the same backend (another process). */
  open(): { bus: StreamBus; peer(): StreamBus; cleanup(streams: string[]): Promise<void> };
}

const redisPrefix = `test:bus:${randomUUID()}:`;
const variants: Variant[] = [
  {
    name: "in-process ring buffers",
    required: true,
    open() {
      const bus = createMemoryStreamBus({ retention: RETENTION });
      // One process holds the whole in-process bus, so "another process" is the same bus.
      return { bus, peer: () => bus, cleanup: async () => undefined };
    },
  },
  {
    name: `Redis Streams (${REDIS_URL.replace(/\/\/[^@]*@/, "//")})`,
    required: REDIS_REQUIRED,
    open() {
      const options = { url: REDIS_URL, retention: RETENTION, blockMs: 1_000, keyPrefix: redisPrefix };
      const peers: StreamBus[] = [];
      return {
        bus: createRedisStreamBus(options),
        peer() {
          const peer = createRedisStreamBus(options);
          peers.push(peer);
          return peer;
        },
        async cleanup(streams) {
          await Promise.all(peers.map((peer) => peer.close()));
          if (streams.length === 0) return;
          const redis = new Redis(REDIS_URL, { lazyConnect: true, retryStrategy: () => null });
          try {
            await redis.connect();
            await redis.del(...streams.map((stream) => redisPrefix + stream));
          } finally {
            redis.disconnect();
          }
        },
      };
    },
  },
];

describe("stream bus contract", () => {
  for (const variant of variants) {
    describe(variant.name, () => {
      let opened: ReturnType<Variant["open"]> | undefined;
      const streamsUsed: string[] = [];
      const stream = (name: string): string => {
        const unique = `${name}:${randomUUID().slice(0, 8)}`;
        streamsUsed.push(unique);
        return unique;
      };
      const bus = (): StreamBus => {
        if (opened === undefined) throw new Error("bus not opened");
        return opened.bus;
      };

      before(async function () {
        const candidate = variant.open();
        try {
          await candidate.bus.probe();
          opened = candidate;
        } catch (error) {
          await candidate.bus.close();
          await candidate.cleanup([]);
          if (variant.required) {
            throw new Error(`${variant.name} is required (REDIS_URL or REQUIRE_REAL_SERVICES=1) but unreachable: ${error}`);
          }
          console.warn(`    skipping ${variant.name}: not reachable and not required (${error})`);
          this.skip();
        }
      });

      after(async () => {
        if (opened === undefined) return;
        await opened.bus.close();
        await opened.cleanup(streamsUsed);
      });

      it("assigns increasing ids and replays entries after an id, oldest first, up to a limit", async () => {
        const s = stream("replay");
        const ids: string[] = [];
        for (const payload of ["p1", "p2", "p3", "p4"]) ids.push(await bus().append(s, payload));
        expect(new Set(ids).size).to.equal(4);

        const all = await bus().readAfter(s, "0", 100);
        expect(all.map((e) => e.payload)).to.deep.equal(["p1", "p2", "p3", "p4"]);
        expect(all.map((e) => e.id)).to.deep.equal(ids);

        const afterSecond = await bus().readAfter(s, ids[1], 100);
        expect(afterSecond.map((e) => e.payload)).to.deep.equal(["p3", "p4"]);
        const limited = await bus().readAfter(s, "0", 2);
        expect(limited.map((e) => e.payload)).to.deep.equal(["p1", "p2"]);
        expect(await bus().readAfter(s, ids[3], 100)).to.deep.equal([]);
        expect(await bus().readAfter(stream("never-written"), "0", 100)).to.deep.equal([]);
      });

      it("keeps at least the newest `retention` entries and drops the oldest ones", async () => {
        const s = stream("retention");
        const total = 250;
        for (let i = 1; i <= total; i++) await bus().append(s, `p${i}`);
        const kept = (await bus().readAfter(s, "0", 1_000)).map((e) => e.payload);
        expect(kept.length).to.be.at.least(RETENTION);
        // Redis trims whole macro nodes (approximate MAXLEN), so it may keep more than `retention`, never all.
        expect(kept.length).to.be.below(total);
        const expectedTail = Array.from({ length: kept.length }, (_, i) => `p${total - kept.length + 1 + i}`);
        expect(kept).to.deep.equal(expectedTail);
      });

      it("delivers entries appended after subscribing, in append order, and none from before", async () => {
        const s = stream("live");
        await bus().append(s, "before");
        const seen: string[] = [];
        const subscription = await bus().subscribe([s], (name, entry) => {
          expect(name).to.equal(s);
          seen.push(entry.payload);
        });
        const payloads = Array.from({ length: 20 }, (_, i) => `live-${i}`);
        for (const payload of payloads) await bus().append(s, payload);
        await waitFor(() => seen.length >= payloads.length, 10_000, "20 live entries");
        await sleep(50);
        expect(seen).to.deep.equal(payloads);
        await subscription.close();
      });

      it("fans every entry out to two subscribers, including one in another process", async () => {
        const s = stream("fanout");
        const first: StreamEntry[] = [];
        const second: StreamEntry[] = [];
        const peer = opened!.peer();
        const subA = await bus().subscribe([s], (_, entry) => first.push(entry));
        const subB = await peer.subscribe([s], (_, entry) => second.push(entry));
        // Appended through the peer: the subscriber on the original bus must see it too.
        const ids = [await peer.append(s, "x"), await bus().append(s, "y")];
        await waitFor(() => first.length === 2 && second.length === 2, 10_000, "both subscribers to get 2 entries");
        expect(first.map((e) => e.id)).to.deep.equal(ids);
        expect(second.map((e) => e.id)).to.deep.equal(ids);
        expect(first.map((e) => e.payload)).to.deep.equal(["x", "y"]);
        await subA.close();
        await subB.close();
      });

      it("adds and removes streams of a running subscription without losing entries of the others", async () => {
        const kept = stream("kept");
        const dropped = stream("dropped");
        const added = stream("added");
        const seen = new Map<string, string[]>();
        const subscription = await bus().subscribe([kept, dropped], (name, entry) => {
          seen.set(name, [...(seen.get(name) ?? []), entry.payload]);
        });
        await bus().append(kept, "k1");
        await bus().append(dropped, "d1");
        await waitFor(() => seen.get(kept)?.length === 1 && seen.get(dropped)?.length === 1, 10_000, "first entries");

        // Entries keep flowing on `kept` while the subscription changes.
        const writer = (async () => {
          for (let i = 2; i <= 11; i++) {
            await bus().append(kept, `k${i}`);
            await sleep(5);
          }
        })();
        await subscription.update([added], [dropped]);
        await bus().append(dropped, "d2");
        await bus().append(added, "a1");
        await writer;

        await waitFor(() => seen.get(kept)?.length === 11 && seen.get(added)?.length === 1, 10_000, "all kept entries and the added one");
        await sleep(100);
        expect(seen.get(kept)).to.deep.equal(Array.from({ length: 11 }, (_, i) => `k${i + 1}`));
        expect(seen.get(added)).to.deep.equal(["a1"]);
        expect(seen.get(dropped)).to.deep.equal(["d1"]);
        await subscription.close();
      });

      it("stops delivering after a subscription is closed", async () => {
        const s = stream("closed");
        const seen: string[] = [];
        const subscription = await bus().subscribe([s], (_, entry) => seen.push(entry.payload));
        await bus().append(s, "one");
        await waitFor(() => seen.length === 1, 10_000, "first entry");
        await subscription.close();
        await bus().append(s, "two");
        await sleep(100);
        expect(seen).to.deep.equal(["one"]);
      });
    });
  }
});
