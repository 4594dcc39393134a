// A real tradeplane server on 127.0.0.1:0 with small test implementations of generated services, and clients built
// from the generated definitions. Methods a test does not implement answer UNIMPLEMENTED.
import { createChannel, createClient, createClientFactory, type Channel } from "nice-grpc";
import { Metadata, ServerError, Status } from "nice-grpc-common";
import { errorDetailsClientMiddleware } from "nice-grpc-error-details";
import { HealthDefinition } from "nice-grpc-server-health";
import { AccountingServiceDefinition, type AccountingServiceImplementation } from "../../../generated/tradeplane/accounting/v1/accounting_service";
import { MarketDataServiceDefinition, type MarketDataServiceImplementation } from "../../../generated/tradeplane/marketdata/v1/market_data_service";
import { createAuthenticator, issueToken, type AuthSettings, type TokenClaims } from "../../../services/platform/auth";
import { createGrpcServer, type GrpcServerOptions, type TradeplaneCallContext, type TradeplaneServer } from "../../../services/platform/grpc-server";
import { createLogger, type Logger } from "../../../services/platform/logger";

export const authSettings: AuthSettings = {
  secret: "integration-test-secret-0123456789abcdef",
  issuer: "tradeplane-test",
  audience: "tradeplane",
};

type Methods = { methods: Record<string, { requestStream: boolean; responseStream: boolean }> };

/** Fills every method a test leaves out with one that answers UNIMPLEMENTED. */
export function withUnimplemented<T extends object>(definition: Methods, partial: Partial<T>): T {
  const full: Record<string, unknown> = { ...partial };
  for (const [name, method] of Object.entries(definition.methods)) {
    if (name in full) continue;
    full[name] = method.responseStream
      ? async function* () {
          throw new ServerError(Status.UNIMPLEMENTED, `${name} is not implemented in this test`);
        }
      : async () => {
          throw new ServerError(Status.UNIMPLEMENTED, `${name} is not implemented in this test`);
        };
  }
  return full as T;
}

export interface Harness {
  server: TradeplaneServer;
  port: number;
  channel: Channel;
  accounting: ReturnType<typeof accountingClient>;
  marketData: ReturnType<typeof marketDataClient>;
  health: ReturnType<typeof healthClient>;
  logLines: string[];
  token(claims?: Partial<TokenClaims>, ttlSeconds?: number): Promise<string>;
  close(): Promise<void>;
}

function accountingClient(channel: Channel) {
  return createClientFactory().use(errorDetailsClientMiddleware).create(AccountingServiceDefinition, channel);
}
function marketDataClient(channel: Channel) {
  return createClientFactory().use(errorDetailsClientMiddleware).create(MarketDataServiceDefinition, channel);
}
function healthClient(channel: Channel) {
  return createClient(HealthDefinition, channel);
}

export interface HarnessOptions {
  accounting?: Partial<AccountingServiceImplementation<TradeplaneCallContext>>;
  accountingProbe?: () => Promise<void>;
  marketData?: Partial<MarketDataServiceImplementation<TradeplaneCallContext>>;
  server?: Partial<Omit<GrpcServerOptions, "logger" | "authenticator">>;
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const logLines: string[] = [];
  const logger: Logger = createLogger({ name: "test", level: "debug", stream: { write: (line: string) => logLines.push(line) } });
  const server = createGrpcServer({
    logger,
    authenticator: createAuthenticator(authSettings),
    rateLimit: { ratePerSecond: 0, burst: 1 },
    maxReceiveMessageBytes: 4 * 1024 * 1024,
    maxSendMessageBytes: 4 * 1024 * 1024,
    keepalive: { timeMs: 30_000, timeoutMs: 10_000 },
    ...options.server,
  });
  server.add(
    AccountingServiceDefinition,
    withUnimplemented<AccountingServiceImplementation<TradeplaneCallContext>>(AccountingServiceDefinition, options.accounting ?? {}),
    options.accountingProbe === undefined ? {} : { probe: options.accountingProbe },
  );
  server.add(
    MarketDataServiceDefinition,
    withUnimplemented<MarketDataServiceImplementation<TradeplaneCallContext>>(MarketDataServiceDefinition, options.marketData ?? {}),
  );
  const port = await server.listen("127.0.0.1", 0);
  const channel = createChannel(`127.0.0.1:${port}`);
  return {
    server,
    port,
    channel,
    accounting: accountingClient(channel),
    marketData: marketDataClient(channel),
    health: healthClient(channel),
    logLines,
    token: (claims = {}, ttlSeconds = 60) =>
      issueToken(authSettings, { sub: "alice", roles: ["trader"], portfolios: ["P1"], ...claims }, ttlSeconds),
    async close() {
      channel.close();
      await server.shutdown({ graceMs: 2_000 });
    },
  };
}

/** Metadata with a bearer token. */
export function bearer(token: string) {
  return { metadata: Metadata({ authorization: `Bearer ${token}` }) };
}
