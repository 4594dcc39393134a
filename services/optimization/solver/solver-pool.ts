// A fixed pool of worker threads running the exact solver. The solver is a pure function of plain data, so
// a problem is posted as-is and the solution (or the DomainError's fields) comes back the same way. With
// size 0 the pool solves inline on the calling thread, which tests and one-off tools use.
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { DomainError, type ErrorKind, type FieldViolation, type PreconditionViolation } from "../../platform/errors";
import { buildProposal, proposalContentFromText, type ProposalContent, type ProposalContentText } from "../domain/build-proposal";
import type { RebalanceProblem, RebalanceSolution } from "../domain/rebalance-problem";
import { solveRebalance } from "../domain/solve-rebalance";

/** A problem posted to a worker. */
export interface SolveRequest {
  id: number;
  problem: RebalanceProblem;
}

/** A worker's answer: a solution, a domain failure's fields, or an unexpected failure (a bug). */
export type SolveReply =
  | { id: number; ok: true; solution: RebalanceSolution; content: ProposalContentText; elapsedMs: number }
  | {
      id: number;
      ok: false;
      domainError?: {
        kind: ErrorKind;
        code: string;
        message: string;
        violations?: FieldViolation[];
        preconditions?: PreconditionViolation[];
        metadata?: Record<string, string>;
      };
      failure?: string;
    };

/** A solution, the proposal content derived from it (built beside the solve, off the event loop) and the
 * solver's own wall time (without queueing). */
export interface TimedSolution {
  solution: RebalanceSolution;
  content: ProposalContent;
  solverTimeMs: number;
}

/** Solves rebalancing problems off the event loop. */
export interface SolverPool {
  solve(problem: RebalanceProblem): Promise<TimedSolution>;
  /** Problems waiting for a free worker. */
  queued(): number;
  close(): Promise<void>;
}

interface Task {
  request: SolveRequest;
  resolve: (value: TimedSolution) => void;
  reject: (error: Error) => void;
}

interface Slot {
  worker: Worker;
  task: Task | null;
}

/** Starts `size` workers (default: the number of cores); size 0 solves inline. */
export function createSolverPool(size = availableParallelism()): SolverPool {
  if (size <= 0) return inlinePool();
  const slots: Slot[] = [];
  const waiting: Task[] = [];
  let nextId = 1;
  let closed = false;

  const dispatch = () => {
    for (const slot of slots) {
      if (slot.task !== null || waiting.length === 0) continue;
      slot.task = waiting.shift()!;
      slot.worker.postMessage(slot.task.request);
    }
  };

  const spawn = (): Slot => {
    const slot: Slot = { worker: startWorker(), task: null };
    slot.worker.on("message", (reply: SolveReply) => {
      const task = slot.task;
      slot.task = null;
      if (task !== null) settle(task, reply);
      dispatch();
    });
    // A crashed worker fails only its own task; a fresh worker takes its place.
    const replace = (error: Error) => {
      const task = slot.task;
      slot.task = null;
      if (task !== null) task.reject(error);
      if (closed) return;
      const index = slots.indexOf(slot);
      if (index >= 0) slots[index] = spawn();
      dispatch();
    };
    slot.worker.on("error", replace);
    slot.worker.on("exit", (code) => {
      if (!closed) replace(new Error(`solver worker exited with code ${code}`));
    });
    return slot;
  };

  for (let i = 0; i < size; i++) slots.push(spawn());

  return {
    solve(problem) {
      if (closed) return Promise.reject(new Error("solver pool is closed"));
      return new Promise<TimedSolution>((resolve, reject) => {
        waiting.push({ request: { id: nextId++, problem }, resolve, reject });
        dispatch();
      });
    },
    queued: () => waiting.length,
    async close() {
      closed = true;
      for (const task of waiting.splice(0)) task.reject(new Error("solver pool is closed"));
      await Promise.all(slots.map((slot) => slot.worker.terminate()));
    },
  };
}

function inlinePool(): SolverPool {
  return {
    async solve(problem) {
      const started = performance.now();
      const solution = solveRebalance(problem);
      const solverTimeMs = performance.now() - started;
      return { solution, content: buildProposal(problem, solution), solverTimeMs };
    },
    queued: () => 0,
    async close() {},
  };
}

function settle(task: Task, reply: SolveReply): void {
  if (reply.ok) {
    task.resolve({ solution: reply.solution, content: proposalContentFromText(reply.content), solverTimeMs: reply.elapsedMs });
    return;
  }
  const e = reply.domainError;
  if (e !== undefined) {
    task.reject(
      new DomainError(e.kind, e.code, e.message, {
        ...(e.violations ? { violations: e.violations } : {}),
        ...(e.preconditions ? { preconditions: e.preconditions } : {}),
        ...(e.metadata ? { metadata: e.metadata } : {}),
      }),
    );
    return;
  }
  task.reject(new Error(`solver worker failed: ${reply.failure ?? "unknown"}`));
}

// Under tsx (development, tests) the worker file is TypeScript: register tsx's CommonJS hook inside the
// worker first. A compiled build runs the .js file directly.
function startWorker(): Worker {
  const file = require.resolve("./solver-worker");
  if (file.endsWith(".ts")) {
    return new Worker(`require("tsx/cjs"); require(${JSON.stringify(file)});`, { eval: true });
  }
  return new Worker(file);
}
