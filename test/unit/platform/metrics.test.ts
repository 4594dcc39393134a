import { expect } from "chai";
import { Status } from "nice-grpc-common";
import { metricsText, rpcMetricsOf } from "../../../services/platform/metrics";

function sample(text: string, name: string, labels: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line === undefined ? undefined : Number(line.split(" ").at(-1));
}

describe("platform metrics", () => {
  it("exposes started and handled calls by code, and durations in cumulative le buckets with sum and count", async () => {
    const metrics = rpcMetricsOf("/tradeplane.test.v1.MetricsProbe/Ping", false, false);
    metrics.finish(Status.OK, metrics.start());
    metrics.start();
    metrics.finish(Status.NOT_FOUND, performance.now() - 300); // 300 ms (and a bit): above 0.25 s, within 0.5 s
    const text = await metricsText();

    const method = 'grpc_service="tradeplane.test.v1.MetricsProbe",grpc_method="Ping",grpc_type="unary"';
    expect(sample(text, "grpc_server_started_total", method)).to.equal(2);
    expect(sample(text, "grpc_server_handled_total", `${method},grpc_code="OK"`)).to.equal(1);
    expect(sample(text, "grpc_server_handled_total", `${method},grpc_code="NOT_FOUND"`)).to.equal(1);
    const notFound = `${method},grpc_code="NOT_FOUND"`;
    expect(sample(text, "grpc_server_handling_seconds_bucket", `${notFound},le="0.25"}`)).to.equal(0);
    expect(sample(text, "grpc_server_handling_seconds_bucket", `${notFound},le="0.5"}`)).to.equal(1);
    expect(sample(text, "grpc_server_handling_seconds_bucket", `${notFound},le="+Inf"}`)).to.equal(1);
    expect(sample(text, "grpc_server_handling_seconds_count", notFound)).to.equal(1);
    expect(sample(text, "grpc_server_handling_seconds_sum", notFound)).to.be.within(0.3, 0.5);
    expect(text).to.contain("# TYPE grpc_server_handling_seconds histogram");
  });
});
