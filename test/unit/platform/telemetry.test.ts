import { expect } from "chai";
import { context, trace } from "@opentelemetry/api";
import { extractTraceContext, inConsumerSpan, injectTraceContext, setupTelemetry } from "../../../services/platform/telemetry";

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
});
