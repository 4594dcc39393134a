// A ModelService/RebalanceService client that decodes google.rpc error details (RichClientError), so tests
// can assert the field violations and reasons a client sees, not only the status code.
import { createChannel, createClientFactory, Metadata, type Channel } from "nice-grpc";
import { errorDetailsClientMiddleware, RichClientError, BadRequest, ErrorInfo } from "nice-grpc-error-details";
import { ModelServiceDefinition } from "../../../generated/tradeplane/optimization/v1/model_service";
import { RebalanceServiceDefinition } from "../../../generated/tradeplane/optimization/v1/rebalance_service";
import type { TestSystem } from "../../support/system";

/** What a failed call showed the client. */
export interface SeenError {
  code: number;
  message: string;
  reason: string;
  metadata: Record<string, string>;
  fieldViolations: Array<{ field: string; description: string }>;
}

export async function richClients(system: TestSystem) {
  const token = await system.token({ sub: "rich-admin", roles: ["admin", "trader"], portfolios: ["*"] });
  const channel: Channel = createChannel(system.address);
  const factory = createClientFactory().use(errorDetailsClientMiddleware);
  const options = { "*": { metadata: Metadata({ authorization: `Bearer ${token}` }) } };
  return {
    models: factory.create(ModelServiceDefinition, channel, options),
    rebalance: factory.create(RebalanceServiceDefinition, channel, options),
    close: () => channel.close(),
  };
}

/** Runs a call that must fail and returns its status with the decoded details. */
export async function failureOf(call: Promise<unknown>): Promise<SeenError> {
  try {
    await call;
  } catch (error) {
    if (!(error instanceof RichClientError)) throw error;
    const info = error.extra.find((d): d is ErrorInfo => d.$type === ErrorInfo.$type);
    const bad = error.extra.find((d): d is BadRequest => d.$type === BadRequest.$type);
    return {
      code: error.code,
      message: error.details,
      reason: info?.reason ?? "",
      metadata: info?.metadata ?? {},
      fieldViolations: bad?.fieldViolations.map((v) => ({ field: v.field, description: v.description })) ?? [],
    };
  }
  throw new Error("expected the call to fail");
}
