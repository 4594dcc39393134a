// A stand-in implementation for a service whose module is not in this build yet: every method answers
// UNIMPLEMENTED with a message naming the service, so callers get a clear status instead of a crash or a hang.
import type { CompatServiceDefinition, ServiceImplementation } from "nice-grpc";
import { ServerError, Status } from "nice-grpc-common";

export function unimplementedService<D extends CompatServiceDefinition>(definition: D, serviceName: string): ServiceImplementation<D> {
  const methods = ((definition as { methods?: Record<string, unknown> }).methods ?? definition) as Record<string, unknown>;
  const implementation: Record<string, unknown> = {};
  for (const method of Object.keys(methods)) {
    implementation[method] = () => {
      throw new ServerError(Status.UNIMPLEMENTED, `${serviceName}.${method} is not available in this build of tradeplane yet`);
    };
  }
  return implementation as ServiceImplementation<D>;
}
