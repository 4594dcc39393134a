// Typed clients for every tradeplane service, for service-to-service calls and scripts.
//
//   const tp = createClients({ address: "127.0.0.1:50051", token, deadlineMs: 5_000 });
//   const { quote } = await tp.marketData.getQuote({ symbol: "AAPL" });
//
// Every call gets a deadline (the default unless the call passes its own `deadline`), and only methods the
// contracts mark NO_SIDE_EFFECTS or IDEMPOTENT are retried, with backoff, on UNAVAILABLE and similar transient
// statuses. Mutations are safe to retry only because they carry idempotency keys, so the client never retries a
// method the contract does not mark. Errors carry their google.rpc details (see `createServiceClient`).
import {
  ChannelCredentials,
  Metadata,
  Status,
  composeClientMiddleware,
  createChannel,
  createClientFactory,
  type CallOptions,
  type Channel,
  type Client,
  type ClientMiddleware,
  type CompatServiceDefinition,
} from "nice-grpc";
import { deadlineMiddleware, type DeadlineOptions } from "nice-grpc-client-middleware-deadline";
import { retryMiddleware, type RetryOptions } from "nice-grpc-client-middleware-retry";
import { errorDetailsClientMiddleware } from "nice-grpc-error-details";
import { AccountingServiceDefinition } from "../../generated/tradeplane/accounting/v1/accounting_service";
import { AllocationServiceDefinition } from "../../generated/tradeplane/accounting/v1/allocation_service";
import { MarketDataServiceDefinition } from "../../generated/tradeplane/marketdata/v1/market_data_service";
import { ModelServiceDefinition } from "../../generated/tradeplane/optimization/v1/model_service";
import { RebalanceServiceDefinition } from "../../generated/tradeplane/optimization/v1/rebalance_service";
import { OrderServiceDefinition } from "../../generated/tradeplane/orders/v1/order_service";

/** Call options every tradeplane client accepts: a deadline and retry settings. */
export type TradeplaneCallOptions = DeadlineOptions & RetryOptions;

/** A typed nice-grpc client with tradeplane's call options. */
export type TradeplaneClient<D extends CompatServiceDefinition> = Client<D, TradeplaneCallOptions>;

export interface ClientOptions {
  /** host:port of the gRPC server (one-process mode serves every service on one port). */
  address: string;
  /** Bearer token (JWT) sent with every call; pass per-call `metadata` to override it. */
  token?: string;
  /** Deadline for calls that do not set their own, in milliseconds. Default 5,000. */
  deadlineMs?: number;
  /** Attempts for idempotent methods, first call included. Default 3. */
  retryMaxAttempts?: number;
  /** Use TLS; plaintext by default (local and in-cluster traffic). */
  tls?: boolean;
  /** An existing channel to share instead of opening one for `address`. */
  channel?: Channel;
}

/** Typed clients for every service, sharing one channel. Call `close()` when done. */
export interface TradeplaneClients {
  marketData: TradeplaneClient<typeof MarketDataServiceDefinition>;
  orders: TradeplaneClient<typeof OrderServiceDefinition>;
  accounting: TradeplaneClient<typeof AccountingServiceDefinition>;
  allocation: TradeplaneClient<typeof AllocationServiceDefinition>;
  models: TradeplaneClient<typeof ModelServiceDefinition>;
  rebalance: TradeplaneClient<typeof RebalanceServiceDefinition>;
  channel: Channel;
  close(): void;
}

/** Statuses worth another attempt of an idempotent call: the server did not (or may not) have acted. */
const RETRYABLE = [Status.UNAVAILABLE, Status.RESOURCE_EXHAUSTED, Status.ABORTED, Status.UNKNOWN];

/**
 * The middleware every tradeplane client runs on a call, outermost first: google.rpc details decoded from the
 * trailer, retries of idempotent methods, the deadline. Shared with the platform's in-process client, so a call
 * behaves the same whichever way it travels.
 */
export function tradeplaneClientMiddleware(): ClientMiddleware<TradeplaneCallOptions> {
  // Failed calls surface as RichClientError with the google.rpc details (ErrorInfo reason, BadRequest field
  // violations, RetryInfo) decoded into `extra`, so callers branch on stable reasons rather than messages.
  return composeClientMiddleware(composeClientMiddleware(errorDetailsClientMiddleware, retryMiddleware), deadlineMiddleware);
}

/** The call options every call of a tradeplane client starts from: default deadline, retry policy, bearer token. */
export function defaultCallOptions(options: Pick<ClientOptions, "token" | "deadlineMs" | "retryMaxAttempts">): CallOptions & TradeplaneCallOptions {
  const token = options.token;
  return {
    deadline: options.deadlineMs ?? 5_000,
    retryMaxAttempts: (options.retryMaxAttempts ?? 3) - 1,
    retryableStatuses: RETRYABLE,
    // Backoff starts small because the whole call, retries included, lives within one deadline of seconds.
    retryBaseDelayMs: 50,
    retryMaxDelayMs: 2_000,
    metadata: token === undefined ? undefined : bearer(token),
  };
}

/**
 * Builds a client for one service definition with tradeplane's defaults: default deadline, retries of idempotent
 * methods only, and the bearer token as metadata.
 */
export function createServiceClient<D extends CompatServiceDefinition>(
  definition: D,
  channel: Channel,
  options: Omit<ClientOptions, "address" | "channel">,
): TradeplaneClient<D> {
  const factory = createClientFactory().use(tradeplaneClientMiddleware());
  return factory.create(definition, channel, { "*": defaultCallOptions(options) }) as TradeplaneClient<D>;
}

function bearer(token: string): Metadata {
  return new Metadata({ authorization: `Bearer ${token}` });
}

/** Opens one channel to `address` and returns typed clients for every tradeplane service. */
export function createClients(options: ClientOptions): TradeplaneClients {
  const channel =
    options.channel ??
    createChannel(options.address, options.tls ? ChannelCredentials.createSsl() : ChannelCredentials.createInsecure(), {
      "grpc.max_receive_message_length": 16 * 1024 * 1024,
      "grpc.keepalive_time_ms": 30_000,
      "grpc.keepalive_timeout_ms": 10_000,
    });
  const make = <D extends CompatServiceDefinition>(definition: D) => createServiceClient(definition, channel, options);
  return {
    marketData: make(MarketDataServiceDefinition),
    orders: make(OrderServiceDefinition),
    accounting: make(AccountingServiceDefinition),
    allocation: make(AllocationServiceDefinition),
    models: make(ModelServiceDefinition),
    rebalance: make(RebalanceServiceDefinition),
    channel,
    close: () => {
      if (!options.channel) channel.close();
    },
  };
}
