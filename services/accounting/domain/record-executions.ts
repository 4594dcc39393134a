import { AccountingError } from "./accounting-error";
import { MAX_EXECUTIONS_PER_CALL, validateExecution, type ExecutionInput, type NewExecution } from "./allocation";

/** One item's outcome, as the reference's BatchCreateResponse reports it. */
export interface ExecutionResult {
  executionServiceId: string;
  status: "CREATED" | "SKIPPED" | "ERROR";
  error: string;
  executionId: string | null;
}

export interface ExecutionStorePort {
  /** execution_service_id → stored id, for those already recorded. */
  findByServiceIds(serviceIds: string[]): Promise<Map<string, string>>;
  /** Inserts, skipping ids recorded concurrently; returns service id → new id for the rows inserted. */
  insert(executions: NewExecution[], readyToSend: Date): Promise<Map<string, string>>;
}

/**
 * RecordExecutions (§2.4), item by item in order: invalid → ERROR; open → SKIPPED, not stored; already recorded
 * (also earlier in this call) → SKIPPED with the existing id; otherwise stored with its New York trade date.
 * The portfolio comes with the execution instead of from a trade-service lookup.
 */
export async function recordExecutions(
  deps: { executions: ExecutionStorePort; now: () => Date },
  inputs: ExecutionInput[],
): Promise<{ results: ExecutionResult[]; created: number; skipped: number; errors: number }> {
  if (inputs.length === 0) throw new AccountingError("EMPTY_BATCH", "no executions provided");
  if (inputs.length > MAX_EXECUTIONS_PER_CALL) {
    throw new AccountingError("BATCH_TOO_LARGE", `batch size exceeds maximum of ${MAX_EXECUTIONS_PER_CALL} executions`);
  }
  const existing = await deps.executions.findByServiceIds(inputs.map((i) => i.executionServiceId).filter((id) => /^-?\d+$/.test(id)));
  const pending = new Map<string, NewExecution>();
  const results: ExecutionResult[] = inputs.map((input) => {
    const validation = validateExecution(input);
    if (!validation.ok) return { executionServiceId: input.executionServiceId, status: "ERROR", error: validation.error, executionId: null };
    if (input.isOpen) return { executionServiceId: input.executionServiceId, status: "SKIPPED", error: "execution is still open", executionId: null };
    const known = existing.get(input.executionServiceId);
    if (known !== undefined || pending.has(input.executionServiceId)) {
      return { executionServiceId: input.executionServiceId, status: "SKIPPED", error: "execution already exists", executionId: known ?? null };
    }
    pending.set(input.executionServiceId, validation.execution);
    return { executionServiceId: input.executionServiceId, status: "CREATED", error: "", executionId: null };
  });
  const inserted = pending.size > 0 ? await deps.executions.insert([...pending.values()], deps.now()) : new Map<string, string>();
  const concurrent = pending.size > inserted.size ? await deps.executions.findByServiceIds([...pending.keys()].filter((id) => !inserted.has(id))) : new Map();
  for (const result of results) {
    if (result.status !== "CREATED") continue;
    const id = inserted.get(result.executionServiceId);
    if (id !== undefined) {
      result.executionId = id;
    } else {
      // Recorded by a concurrent call between our lookup and our insert: the same "already exists" skip.
      Object.assign(result, { status: "SKIPPED", error: "execution already exists", executionId: concurrent.get(result.executionServiceId) ?? null });
    }
  }
  const count = (status: ExecutionResult["status"]) => results.filter((r) => r.status === status).length;
  return { results, created: count("CREATED"), skipped: count("SKIPPED"), errors: count("ERROR") };
}
