// Worker-thread entry point: solves rebalancing problems posted by solver-pool.ts, so that a model-wide
// rebalance never blocks the gRPC server's event loop. Messages are plain data both ways.
import { parentPort } from "node:worker_threads";
import { isDomainError } from "../../platform/errors";
import { buildProposal, proposalContentToText } from "../domain/build-proposal";
import { solveRebalance } from "../domain/solve-rebalance";
import type { SolveReply, SolveRequest } from "./solver-pool";

parentPort?.on("message", (request: SolveRequest) => {
  const started = performance.now();
  let reply: SolveReply;
  try {
    const solution = solveRebalance(request.problem);
    const elapsedMs = performance.now() - started;
    // The proposal is built here too: its exact weights and bands are most of the Decimal work of a rebalance.
    reply = { id: request.id, ok: true, solution, content: proposalContentToText(buildProposal(request.problem, solution)), elapsedMs };
  } catch (error) {
    reply = isDomainError(error)
      ? {
          id: request.id,
          ok: false,
          domainError: {
            kind: error.kind,
            code: error.code,
            message: error.message,
            violations: error.violations ? [...error.violations] : undefined,
            preconditions: error.preconditions ? [...error.preconditions] : undefined,
            metadata: error.metadata ? { ...error.metadata } : undefined,
          },
        }
      : { id: request.id, ok: false, failure: error instanceof Error ? error.stack ?? error.message : String(error) };
  }
  parentPort!.postMessage(reply);
});
