// The claim reaper: a submit whose process died (or whose client gave up) after claiming its idempotency key and
// possibly reserving in accounting, and that nobody retried, would keep its hold forever. Once its lease ran out
// long ago (`abandonAfterMs`, far beyond any call deadline) the reaper takes the claim (pushes its lease forward, so a
// retry arriving meanwhile waits), releases the hold accounting may have for its order id, and removes the claim, so
// a later retry with the key submits afresh. A claim whose order exists is never touched (it is completed in the
// order's own statement), and releasing twice is harmless, so a reaper that dies halfway simply repeats the step.
import type { Knex } from "knex";
import type { Logger } from "../../platform/logger";
import { startPeriodic, type Periodic } from "../../platform/periodic";
import type { AccountingPort } from "../domain/ports";

/** Claims reaped per round. */
const REAP_BATCH = 100;

interface AbandonedClaim {
  portfolio_id: string;
  idempotency_key: string;
  order_id: string;
  held_amount: string | null;
}

/** Takes up to `limit` claims abandoned for longer than `abandonAfterMs`, leasing them to this reaper for `leaseMs`. */
export async function takeAbandonedClaims(
  knex: Knex,
  schema: string,
  abandonAfterMs: number,
  leaseMs: number,
  limit: number,
): Promise<AbandonedClaim[]> {
  const table = `${schema}.idempotency_keys`;
  const { rows } = await knex.raw<{ rows: AbandonedClaim[] }>(
    `update ?? k set lease_until = now() + ?::float8 * interval '1 millisecond'
     from (
       select portfolio_id, idempotency_key from ??
       where completed_at is null and lease_until < now() - ?::float8 * interval '1 millisecond'
       order by lease_until limit ? for update skip locked
     ) abandoned
     where k.portfolio_id = abandoned.portfolio_id and k.idempotency_key = abandoned.idempotency_key
     returning k.portfolio_id, k.idempotency_key, k.order_id::text, k.held_amount`,
    [table, leaseMs, table, abandonAfterMs, limit],
  );
  return rows;
}

/** Removes a taken claim unless its order was written meanwhile. */
async function removeClaim(knex: Knex, schema: string, claim: AbandonedClaim): Promise<void> {
  await knex.raw("delete from ?? where portfolio_id = ? and idempotency_key = ? and order_id = ? and completed_at is null", [
    `${schema}.idempotency_keys`,
    claim.portfolio_id,
    claim.idempotency_key,
    claim.order_id,
  ]);
}

/** Starts reaping every `intervalMs`; returns its stop function. */
export function startClaimReaper(options: {
  knex: Knex;
  schema: string;
  accounting: AccountingPort;
  abandonAfterMs: number;
  intervalMs: number;
  logger: Logger;
}): () => Promise<void> {
  const { knex, schema, accounting, logger } = options;

  async function reap(periodic: Periodic): Promise<void> {
    // The lease covers the release calls below; a reaper that dies leaves the claim to the next round after it.
    const claims = await takeAbandonedClaims(knex, schema, options.abandonAfterMs, options.abandonAfterMs, REAP_BATCH);
    for (const claim of claims) {
      if (periodic.stopped()) return;
      try {
        // Accounting keys holds by order id; NOT_FOUND (the submit died before reserving) is nothing to release.
        if (claim.held_amount !== null) await accounting.release(claim.order_id, claim.portfolio_id);
        await removeClaim(knex, schema, claim);
        logger.info("released the hold of an abandoned submit", {
          portfolioId: claim.portfolio_id,
          orderId: claim.order_id,
          heldAmount: claim.held_amount,
        });
      } catch (error) {
        logger.warn("could not reap an abandoned submit; a later round retries", { orderId: claim.order_id, err: error });
      }
    }
  }

  const periodic = startPeriodic({
    intervalMs: options.intervalMs,
    round: reap,
    onError: (error) => logger.warn("claim reaper round failed", { err: error }),
  });
  return () => periodic.stop();
}
