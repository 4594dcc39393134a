// One contract for request/reply on both PubSubs: the same assertions run over Redis pub/sub (when REDIS_URL is set,
// when REQUIRE_REAL_SERVICES=1, or when a local Redis answers) and over the in-process stand-in.
import { randomUUID } from "node:crypto";
import { expect } from "chai";
import { createMemoryPubSub } from "../../../services/platform/pubsub-memory";
import { createRedisPubSub } from "../../../services/platform/pubsub-redis";
import { createRequestReplyBus, RemoteHandlerError, type PubSub, type RequestReplyBus } from "../../../services/platform/request-reply";

const REQUIRE_REAL = process.env.REQUIRE_REAL_SERVICES === "1";
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const REDIS_REQUIRED = REQUIRE_REAL || process.env.REDIS_URL !== undefined;
/** Longer than a test may take: a request that waited for it instead of settling at once fails by timing out. */
const LONG_MS = 120_000;

interface Instance {
  pubsub: PubSub;
  bus: RequestReplyBus;
}

interface Variant {
  name: string;
  required: boolean;
  /** Whether `peer()` is another instance (Redis) or this one again (in-process: one process is one instance). */
  hasPeers: boolean;
  open(): { self: Instance; peer(): Instance; close(): Promise<void> };
}

const instanceOf = (pubsub: PubSub): Instance => ({ pubsub, bus: createRequestReplyBus(pubsub) });

const variants: Variant[] = [
  {
    name: "in-process pub/sub",
    required: true,
    hasPeers: false,
    open() {
      const self = instanceOf(createMemoryPubSub());
      return { self, peer: () => self, close: () => self.bus.close() };
    },
  },
  {
    name: `Redis pub/sub (${REDIS_URL.replace(/\/\/[^@]*@/, "//")})`,
    required: REDIS_REQUIRED,
    hasPeers: true,
    open() {
      const options = { url: REDIS_URL, channelPrefix: `test:rr:${randomUUID()}:`, commandTimeoutMs: 1_000 };
      const instances = [instanceOf(createRedisPubSub(options))];
      return {
        self: instances[0]!,
        peer() {
          const peer = instanceOf(createRedisPubSub(options));
          instances.push(peer);
          return peer;
        },
        close: async () => void (await Promise.all(instances.map((instance) => instance.bus.close()))),
      };
    },
  },
];

describe("request/reply contract", () => {
  for (const variant of variants) {
    describe(variant.name, () => {
      let opened: ReturnType<Variant["open"]> | undefined;
      const channel = () => `requests.${randomUUID().slice(0, 8)}`;
      const self = () => opened!.self;

      before(async function () {
        const candidate = variant.open();
        try {
          // Nobody serves this channel: a working backend answers "no receivers".
          expect(await candidate.self.bus.request(channel(), "ping", { timeoutMs: 1_000 })).to.equal(undefined);
          opened = candidate;
        } catch (error) {
          await candidate.close();
          if (variant.required) throw new Error(`${variant.name} is required (REDIS_URL or REQUIRE_REAL_SERVICES=1) but failed: ${error}`);
          console.warn(`    skipping ${variant.name}: not reachable and not required (${error})`);
          this.skip();
        }
      });

      after(async () => {
        await opened?.close();
      });

      it("resolves with the reply of the server that has the answer", async () => {
        const ch = channel();
        await opened!.peer().bus.serve(ch, (request) => (request.startsWith("mine:") ? `answer to ${request}` : undefined));
        expect(await self().bus.request(ch, "mine:42", { timeoutMs: LONG_MS })).to.equal("answer to mine:42");
      });

      it("resolves undefined as soon as every server that received the request declined", async () => {
        const ch = channel();
        await opened!.peer().bus.serve(ch, async () => undefined);
        expect(await self().bus.request(ch, "anyone?", { timeoutMs: LONG_MS })).to.equal(undefined);
      });

      it("resolves undefined at once when nobody serves the channel", async () => {
        expect(await self().bus.request(channel(), "anyone?", { timeoutMs: LONG_MS })).to.equal(undefined);
      });

      it("waits for a receiver that never answers until the timeout, then resolves undefined", async () => {
        const ch = channel();
        let received = 0;
        await opened!.peer().pubsub.subscribe(ch, () => void (received += 1));
        const startedMs = Date.now();
        expect(await self().bus.request(ch, "anyone?", { timeoutMs: 300 })).to.equal(undefined);
        expect(Date.now() - startedMs).to.be.at.least(290);
        expect(received).to.equal(1);
      });

      it("rejects with RemoteHandlerError when the server's handler throws, instead of calling it a decline", async () => {
        const ch = channel();
        await opened!.peer().bus.serve(ch, () => {
          throw new Error("broken handler");
        });
        const failure = await self().bus.request(ch, "x", { timeoutMs: LONG_MS }).catch((error: unknown) => error);
        expect(failure).to.be.instanceOf(RemoteHandlerError);
      });

      it("rejects with an AbortError when the signal aborts while waiting, or was aborted before", async () => {
        const ch = channel();
        await opened!.peer().pubsub.subscribe(ch, () => undefined);
        const controller = new AbortController();
        const waiting = self().bus.request(ch, "x", { timeoutMs: LONG_MS, signal: controller.signal }).catch((error: unknown) => error);
        setTimeout(() => controller.abort(), 50);
        expect(await waiting).to.have.property("name", "AbortError");
        expect(await self().bus.request(ch, "x", { timeoutMs: LONG_MS, signal: controller.signal }).catch((error: unknown) => error)).to.have.property(
          "name",
          "AbortError",
        );
      });

      // Only where instances share a backend: in-process, one process is one instance and there is no other to ask.
      if (variant.hasPeers) {
        it("asks every instance: the ones without the answer decline, the one with it replies", async () => {
          const ch = channel();
          const asked: string[] = [];
          await self().bus.serve(ch, (request) => void asked.push(`self ${request}`));
          await opened!.peer().bus.serve(ch, (request) => void asked.push(`first ${request}`));
          await opened!.peer().bus.serve(ch, (request) => (asked.push(`second ${request}`), request === "b" ? "from second" : undefined));
          expect(await self().bus.request(ch, "b", { timeoutMs: LONG_MS })).to.equal("from second");
          expect(await self().bus.request(ch, "c", { timeoutMs: LONG_MS })).to.equal(undefined);
          expect(asked.filter((entry) => entry.endsWith(" c")).sort()).to.deep.equal(["first c", "second c", "self c"]);
        });
      }
    });
  }
});
