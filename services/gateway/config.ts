// The bridge's own settings, read once at start-up, validated together and frozen.
import { bool, durationMs, int, list, loadConfig, type ConfigOf } from "../platform/config";

const MIB = 1024 * 1024;

export const gatewayConfigSpec = {
  strictJson: bool({ env: "GATEWAY_STRICT_JSON", default: true, description: "reject unknown JSON fields and query parameters with 400 instead of ignoring them" }),
  emitDefaults: bool({ env: "GATEWAY_EMIT_DEFAULTS", default: true, description: "write proto3 default values (\"\", 0, false, []) in responses instead of omitting them" }),
  maxBodyBytes: int({ env: "GATEWAY_MAX_BODY_BYTES", default: 1 * MIB, min: 1024, max: 64 * MIB, description: "largest JSON request body" }),
  maxStreamBodyBytes: int({ env: "GATEWAY_MAX_STREAM_BODY_BYTES", default: 16 * MIB, min: 1024, max: 256 * MIB, description: "largest NDJSON body of a client-streaming call" }),
  defaultTimeoutMs: durationMs({ env: "GATEWAY_DEFAULT_TIMEOUT", default: 30_000, minMs: 100, description: "deadline of unary and client-streaming calls without X-Timeout-Ms / grpc-timeout" }),
  maxTimeoutMs: durationMs({ env: "GATEWAY_MAX_TIMEOUT", default: 3_600_000, minMs: 100, description: "the largest deadline a caller may ask for" }),
  sseHeartbeatMs: durationMs({ env: "GATEWAY_SSE_HEARTBEAT", default: 15_000, minMs: 100, description: "interval of `: keepalive` comments on idle event streams (keeps proxies from closing them)" }),
  sseRetryMs: durationMs({ env: "GATEWAY_SSE_RETRY", default: 1_000, minMs: 0, description: "reconnect delay advertised to EventSource clients (`retry:`)" }),
  firstFrameWaitMs: durationMs({ env: "GATEWAY_FIRST_FRAME_WAIT", default: 300, minMs: 0, description: "how long a stream waits for its first frame, so early errors still get a real HTTP status" }),
  maxOpenStreams: int({ env: "GATEWAY_MAX_STREAMS", default: 10_000, min: 1, description: "concurrent streaming responses this process serves" }),
  corsOrigins: list({ env: "GATEWAY_CORS_ORIGINS", default: [], description: "origins allowed by CORS (`*` for any); empty = same-origin only" }),
  allowQueryToken: bool({ env: "GATEWAY_ALLOW_QUERY_TOKEN", default: true, description: "accept `?access_token=` on GET when there is no Authorization header (EventSource cannot send headers)" }),
  inProcess: bool({ env: "GATEWAY_IN_PROCESS", default: true, description: "call unary methods of services running in this process directly (same auth and errors), not over gRPC" }),
  accessLog: bool({ env: "GATEWAY_ACCESS_LOG", default: true, description: "one info log line per request" }),
};

export type GatewayConfig = ConfigOf<typeof gatewayConfigSpec>;

/** Reads the gateway keys from the environment (every problem reported at once). */
export function loadGatewayConfig(env: NodeJS.ProcessEnv): GatewayConfig {
  return loadConfig(gatewayConfigSpec, env);
}
