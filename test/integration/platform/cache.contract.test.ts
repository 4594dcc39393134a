// One contract for both caches: the same assertions run against Redis (when REDIS_URL is set, when
// REQUIRE_REAL_SERVICES=1, or when a local Redis answers) and against the in-process LRU.
import { randomUUID } from "node:crypto";
import { expect } from "chai";
import { createMemoryCache } from "../../../services/platform/cache-memory";
import { createRedisCache } from "../../../services/platform/cache-redis";
import type { Cache } from "../../../services/platform/messaging";

const REQUIRE_REAL = process.env.REQUIRE_REAL_SERVICES === "1";
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
/** A configured or demanded Redis must work; an unconfigured local one is used only if it answers. */
const REDIS_REQUIRED = REQUIRE_REAL || process.env.REDIS_URL !== undefined;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Variant {
  name: string;
  open(): Cache;
  required: boolean;
}

const variants: Variant[] = [
  { name: "in-process LRU", open: () => createMemoryCache({ maxEntries: 1_000 }), required: true },
  {
    name: `Redis (${REDIS_URL.replace(/\/\/[^@]*@/, "//")})`,
    open: () => createRedisCache({ url: REDIS_URL, keyPrefix: `test:cache:${randomUUID()}:`, commandTimeoutMs: 1_000 }),
    required: REDIS_REQUIRED,
  },
];

describe("cache contract", () => {
  for (const variant of variants) {
    describe(variant.name, () => {
      let cache: Cache | undefined;
      const used = new Set<string>();
      const key = (name: string): string => {
        used.add(name);
        return name;
      };
      const open = (): Cache => {
        if (cache === undefined) throw new Error("cache not opened");
        return cache;
      };

      before(async function () {
        const candidate = variant.open();
        try {
          await candidate.probe();
          cache = candidate;
        } catch (error) {
          await candidate.close();
          if (variant.required) {
            throw new Error(`${variant.name} is required (REDIS_URL or REQUIRE_REAL_SERVICES=1) but unreachable: ${error}`);
          }
          console.warn(`    skipping ${variant.name}: not reachable and not required (${error})`);
          this.skip();
        }
      });

      after(async () => {
        if (cache === undefined) return;
        await cache.delete([...used]);
        await cache.close();
      });

      it("returns a value that was set and nothing for a missing key", async () => {
        await open().set(key("a"), "alpha", 10_000);
        expect(await open().get(key("a"))).to.equal("alpha");
        expect(await open().get(key("missing"))).to.equal(undefined);
      });

      it("overwrites a value", async () => {
        await open().set(key("b"), "one", 10_000);
        await open().set(key("b"), "two", 10_000);
        expect(await open().get(key("b"))).to.equal("two");
      });

      it("forgets an entry once its time to live has passed", async () => {
        // Generous times: the first read must land inside the TTL even on a loaded machine.
        await open().set(key("short"), "soon gone", 500);
        expect(await open().get(key("short"))).to.equal("soon gone");
        await sleep(700);
        expect(await open().get(key("short"))).to.equal(undefined);
      });

      it("reads many keys at once, aligned with the requested keys", async () => {
        await open().set(key("m1"), "one", 10_000);
        await open().set(key("m3"), "three", 10_000);
        const values = await open().getMany([key("m1"), key("m2"), key("m3"), key("m1")]);
        expect(values).to.deep.equal(["one", undefined, "three", "one"]);
        expect(await open().getMany([])).to.deep.equal([]);
      });

      it("writes many entries at once with one time to live", async () => {
        await open().setMany(
          [
            { key: key("s1"), value: "x" },
            { key: key("s2"), value: "y" },
          ],
          500,
        );
        expect(await open().getMany([key("s1"), key("s2")])).to.deep.equal(["x", "y"]);
        await sleep(700);
        expect(await open().getMany([key("s1"), key("s2")])).to.deep.equal([undefined, undefined]);
      });

      it("deletes one key or many", async () => {
        await open().setMany(
          ["d1", "d2", "d3"].map((name) => ({ key: key(name), value: name })),
          10_000,
        );
        await open().delete(key("d1"));
        await open().delete([key("d2"), key("d3"), key("never-set")]);
        expect(await open().getMany([key("d1"), key("d2"), key("d3")])).to.deep.equal([undefined, undefined, undefined]);
      });

      it("rejects a time to live that is not positive", async () => {
        const error = await open()
          .set(key("bad"), "v", 0)
          .then(() => undefined, (e: unknown) => e);
        expect(error).to.be.instanceOf(RangeError);
      });
    });
  }

  describe("in-process LRU only", () => {
    it("evicts the least recently used entry beyond maxEntries", async () => {
      const cache = createMemoryCache({ maxEntries: 2 });
      await cache.set("a", "1", 10_000);
      await cache.set("b", "2", 10_000);
      await cache.get("a"); // "b" is now the least recently used
      await cache.set("c", "3", 10_000);
      expect(await cache.getMany(["a", "b", "c"])).to.deep.equal(["1", undefined, "3"]);
      await cache.close();
    });
  });

  describe("Redis when it is down", () => {
    it("rejects commands at once instead of queueing them, so callers can fall back", async () => {
      // Port 1 refuses connections: the same situation as a Redis that has just gone away.
      const cache = createRedisCache({ url: "redis://127.0.0.1:1", commandTimeoutMs: 200 });
      try {
        const started = Date.now();
        const getError = await cache.get("k").then(() => undefined, (e: unknown) => e);
        const probeError = await cache.probe().then(() => undefined, (e: unknown) => e);
        expect(getError).to.be.instanceOf(Error);
        expect(probeError).to.be.instanceOf(Error);
        expect(Date.now() - started).to.be.below(2_000);
      } finally {
        await cache.close();
      }
    });
  });
});
