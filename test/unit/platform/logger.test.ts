import { expect } from "chai";
import { context, trace } from "@opentelemetry/api";
import { createLogger } from "../../../services/platform/logger";
import { setupTelemetry } from "../../../services/platform/telemetry";

function capture() {
  const lines: string[] = [];
  return { lines, stream: { write: (chunk: string) => lines.push(chunk) }, records: () => lines.map((l) => JSON.parse(l)) };
}

describe("platform logger", () => {
  it("writes one JSON line per record with time, level, name and message", () => {
    const out = capture();
    const logger = createLogger({ name: "orders", level: "info", stream: out.stream });
    logger.info("order submitted", { orderId: "o-1" });
    logger.debug("dropped below the level");
    expect(out.lines).to.have.length(1);
    expect(out.lines[0]!.endsWith("\n")).to.equal(true);
    const [record] = out.records();
    expect(record).to.include({ level: "info", name: "orders", msg: "order submitted", orderId: "o-1" });
    expect(Date.parse(record.time)).to.be.a("number").and.not.NaN;
  });

  it("redacts secrets under sensitive keys at any depth and masks bearer tokens and JWTs in text", () => {
    const out = capture();
    const logger = createLogger({ name: "gateway", stream: out.stream }).child({ apiKey: "k-123" });
    const jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ";
    logger.warn(`rejected header Bearer ${jwt}`, {
      request: { headers: { Authorization: `Bearer ${jwt}`, accept: "json" }, nested: [{ password: "hunter2" }] },
      note: `token was ${jwt}`,
      url: "amqp://guest:guest-password@127.0.0.1:5672",
      refreshToken: "r-1",
      client_secret: "s-1",
    });
    const text = out.lines[0]!;
    expect(text).not.to.contain(jwt);
    expect(text).not.to.contain("hunter2");
    expect(text).not.to.contain("k-123");
    expect(text).not.to.contain("guest-password");
    expect(text).not.to.contain("r-1");
    expect(text).not.to.contain("s-1");
    const [record] = out.records();
    expect(record.request.headers).to.deep.equal({ Authorization: "[REDACTED]", accept: "json" });
    expect(record.msg).to.equal("rejected header Bearer [REDACTED]");
  });

  it("serializes errors with their message and stack, and survives circular fields", () => {
    const out = capture();
    const logger = createLogger({ name: "x", stream: out.stream });
    const loop: Record<string, unknown> = { a: 1 };
    loop.self = loop;
    logger.error("failed", { err: new Error("boom"), loop });
    const [record] = out.records();
    expect(record.err.message).to.equal("boom");
    expect(record.err.stack).to.contain("Error: boom");
    expect(record.loop.self).to.equal("[Circular]");
  });

  it("stamps the trace and span id of the active span", () => {
    setupTelemetry({ serviceName: "test", exporter: "none" });
    const out = capture();
    const logger = createLogger({ name: "x", stream: out.stream });
    const span = trace.getTracer("test").startSpan("work");
    context.with(trace.setSpan(context.active(), span), () => logger.info("inside"));
    span.end();
    logger.info("outside");
    const [inside, outside] = out.records();
    expect(inside.trace_id).to.equal(span.spanContext().traceId).and.match(/^[0-9a-f]{32}$/);
    expect(inside.span_id).to.equal(span.spanContext().spanId);
    expect(outside).not.to.have.property("trace_id");
  });
});
