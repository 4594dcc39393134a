import { expect } from "chai";
import { context, trace, TraceFlags, type TextMapGetter } from "@opentelemetry/api";
import {
  extractTraceContext,
  inConsumerSpan,
  injectTraceContext,
  setupTelemetry,
  startServerSpan,
} from "../../../services/platform/telemetry";

const headers: TextMapGetter<Record<string, string>> = { get: (carrier, key) => carrier[key], keys: (carrier) => Object.keys(carrier) };
const peer = () => "127.0.0.1:5000";

describe("platform telemetry", () => {
  before(() => {
    setupTelemetry({ serviceName: "test", exporter: "none" });
  });

  it("carries the W3C trace context through message headers to the consumer's span", async () => {
    const producer = trace.getTracer("test").startSpan("publish");
    const headers = context.with(trace.setSpan(context.active(), producer), () => injectTraceContext({ "x-other": "1" }));
    producer.end();
    expect(headers.traceparent).to.match(new RegExp(`^00-${producer.spanContext().traceId}-[0-9a-f]{16}-01$`));
    expect(headers["x-other"]).to.equal("1");

    // amqplib may hand headers back as Buffers.
    const delivered = { traceparent: Buffer.from(headers.traceparent!) };
    expect(trace.getSpanContext(extractTraceContext(delivered))?.traceId).to.equal(producer.spanContext().traceId);
    const seen = await inConsumerSpan("consume", delivered, async () => trace.getActiveSpan()!.spanContext());
    expect(seen.traceId).to.equal(producer.spanContext().traceId);
    expect(seen.spanId).not.to.equal(producer.spanContext().spanId);
  });

  it("starts a new trace for a message without trace headers and rethrows a failed consumer's error", async () => {
    const failure = new Error("handler failed");
    let traceId = "";
    try {
      await inConsumerSpan("consume", {}, async () => {
        traceId = trace.getActiveSpan()!.spanContext().traceId;
        throw failure;
      });
      expect.fail("should have thrown");
    } catch (error) {
      expect(error).to.equal(failure);
    }
    expect(traceId).to.match(/^[0-9a-f]{32}$/);
  });

  it("gives an unexported server call the caller's trace and sampling flag, or a new sampled trace without a caller", () => {
    const callerTraceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const followed = startServerSpan("/tradeplane.test.v1.Probe/Ping", { traceparent: `00-${callerTraceId}-00f067aa0ba902b7-00` }, headers, peer);
    expect(followed.span.spanContext()).to.include({ traceId: callerTraceId, traceFlags: TraceFlags.NONE });
    expect(followed.span.spanContext().spanId).to.match(/^[0-9a-f]{16}$/).and.not.equal("00f067aa0ba902b7");
    expect(trace.getSpan(followed.context)).to.equal(followed.span);

    const fresh = startServerSpan("/tradeplane.test.v1.Probe/Ping", {}, headers, peer);
    expect(fresh.span.spanContext().traceId).to.match(/^[0-9a-f]{32}$/).and.not.equal(callerTraceId);
    expect(fresh.span.spanContext().traceFlags).to.equal(TraceFlags.SAMPLED);
    expect(injectTraceContext({}, fresh.context).traceparent).to.contain(fresh.span.spanContext().traceId);
  });
});
