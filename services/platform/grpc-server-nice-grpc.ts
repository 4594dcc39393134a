// Client- and bidi-streaming calls: nice-grpc's own handlers with the platform middleware chain. Also the nice-grpc
// definition conversions every registration goes through, and the deadline check those chains run.
import type * as grpc from '@grpc/grpc-js';
import type { CompatServiceDefinition, MethodDefinition } from 'nice-grpc';
import type { ServerMiddleware } from 'nice-grpc-common';
import { callEndedBeforeStart } from './grpc-server-call-context';
import type { MethodImplementation } from './grpc-server-unary';

export type AnyMethodDefinition = MethodDefinition<any, any, any, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
type StreamingHandlerFactory = (
  definition: AnyMethodDefinition,
  implementation: MethodImplementation,
  middleware: ServerMiddleware<any, any> | undefined, // eslint-disable-line @typescript-eslint/no-explicit-any
) => grpc.UntypedHandleCall;

/**
 * nice-grpc keeps its per-kind call handlers and its definition conversions in lib/ without public types. Client and
 * bidi streams are served by exactly those handlers (their write backpressure and cancellation rules are subtle), so they are
 * loaded here, checked once, and typed by what they are.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const niceGrpcDefinitions = require('nice-grpc/lib/service-definitions') as {
  normalizeServiceDefinition(definition: CompatServiceDefinition): Record<string, AnyMethodDefinition>;
  toGrpcJsMethodDefinition(definition: AnyMethodDefinition): grpc.MethodDefinition<unknown, unknown>;
};
export const streamingHandlerFactories = {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  client: require('nice-grpc/lib/server/handleClientStreamingCall').createClientStreamingMethodHandler as StreamingHandlerFactory,
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  bidi: require('nice-grpc/lib/server/handleBidiStreamingCall').createBidiStreamingMethodHandler as StreamingHandlerFactory,
};
for (const internal of [niceGrpcDefinitions.normalizeServiceDefinition, niceGrpcDefinitions.toGrpcJsMethodDefinition, ...Object.values(streamingHandlerFactories)]) {
  if (typeof internal !== 'function') throw new Error('this nice-grpc version lacks the server internals tradeplane uses');
}

/** Refuses work whose deadline passed (or whose client left) before it started; handlers watch `signal` after. */
export const deadlineCheckMiddleware: ServerMiddleware = async function* deadlineCheck(call, context) {
  if (context.signal.aborted) throw callEndedBeforeStart();
  return yield* call.next(call.request, context);
};
