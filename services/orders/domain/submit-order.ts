import type Decimal from "decimal.js";
import { authorizePortfolio } from "./authorize-portfolio";
import { fingerprintOf, replayOrderId } from "./idempotency-fingerprint";
import { openOrder } from "./open-order";
import { OrderError } from "./order-error";
import type { Order } from "./order";
import type { OrderRules } from "./order-rules";
import type { AccountingPort, Caller, Clock, IdempotencyKeys, MarketDataPort, OrderStore } from "./ports";
import { sizeReservation } from "./reservation-sizing";
import { parseSubmitCommand, type SubmitCommand, type SubmitOrderInput } from "./submit-command";
import { validateAgainstMarket } from "./validate-against-market";

/** What submitOrder needs. */
export interface SubmitOrderDeps {
  marketData: MarketDataPort;
  accounting: AccountingPort;
  keys: IdempotencyKeys;
  store: OrderStore;
  clock: Clock;
  rules: OrderRules;
  newOrderId(): string;
  /** Waits between looks at a key another request is still working on. */
  sleep(ms: number): Promise<void>;
  /** How long a duplicate waits for the in-flight original before answering IDEMPOTENCY_KEY_IN_FLIGHT. */
  inFlightWaitMs: number;
  /** Submits in progress in this process by (portfolio, key): duplicates join the original instead of polling the
   * database (a retry storm on one key would otherwise starve the original of connections). */
  inFlight: Map<string, { fingerprint: string; result: Promise<SubmitOrderResult> }>;
}

/** The stored order and whether this call created it or replayed an earlier one. */
export interface SubmitOrderResult {
  order: Order;
  replayed: boolean;
}

/**
 * SubmitOrder: check the command, claim the idempotency key, check the market, reserve in accounting, then write
 * the order, its first event and its outbox row in one transaction. Answers with the order in PENDING_NEW; the
 * execution worker takes it from there.
 */
export async function submitOrder(
  deps: SubmitOrderDeps,
  caller: Caller,
  input: SubmitOrderInput,
): Promise<SubmitOrderResult> {
  const command = parseSubmitCommand(input);
  authorizePortfolio(caller, command.portfolioId);
  const fingerprint = fingerprintOf(command);

  const flightKey = `${command.portfolioId}\u0000${command.idempotencyKey}`;
  const running = deps.inFlight.get(flightKey);
  if (running !== undefined) {
    replayOrderId({ fingerprint: running.fingerprint, orderId: "" }, fingerprint);
    const original = await running.result;
    return { order: original.order, replayed: true };
  }
  const result = submitOnce(deps, command, fingerprint);
  deps.inFlight.set(flightKey, { fingerprint, result });
  try {
    return await result;
  } finally {
    deps.inFlight.delete(flightKey);
  }
}

async function submitOnce(deps: SubmitOrderDeps, command: SubmitCommand, fingerprint: string): Promise<SubmitOrderResult> {
  // The market lookup only reads, so it runs while the key is claimed instead of after: one wait instead of two on
  // every submit. A replay ignores it (and whatever it failed with).
  const instrumentRef = command.securityId !== "" ? { securityId: command.securityId } : { symbol: command.symbol };
  const lookup = deps.marketData.snapshot(instrumentRef);
  lookup.catch(() => undefined);
  const claim = await claimKey(deps, command.portfolioId, command.idempotencyKey, fingerprint);
  if (claim.kind === "replay") {
    const original = await deps.store.find(claim.orderId);
    if (original !== null) return { order: original, replayed: true };
    throw new OrderError("DEPENDENCY_UNAVAILABLE", "the original order of this idempotency key is not readable yet");
  }

  const orderId = claim.orderId;
  // Whether a hold may exist in accounting: from the moment the reserve call goes out, unless accounting refused it.
  let mayHoldFunds = false;
  try {
    // A claim that had to wait for another attempt of this key looks again: the early quote may be stale by now.
    const market = claim.waited ? await deps.marketData.snapshot(instrumentRef) : await lookup;
    if (market === null) {
      const message = `symbol ${command.symbol || command.securityId} is not valid or not tradeable`;
      const field = command.securityId !== "" ? "security_id" : "symbol";
      throw new OrderError("INSTRUMENT_NOT_TRADABLE", message, [{ field, description: message }]);
    }
    const now = deps.clock.now();
    const acceptance = validateAgainstMarket(command, market, deps.rules, now);
    const sized = sizeReservation(command, acceptance, deps.rules);
    // A takeover repeats the earlier attempt's hold exactly; a first attempt records it before asking.
    const size = claim.heldAmount !== null ? { ...sized, amount: claim.heldAmount } : sized;
    if (claim.heldAmount === null) await deps.keys.recordHold(command.portfolioId, command.idempotencyKey, orderId, size.amount);
    mayHoldFunds = true;
    const { reservationId } = await deps.accounting.reserve({
      orderId,
      portfolioId: command.portfolioId,
      asset: size.asset,
      symbol: market.instrument.symbol,
      securityId: market.instrument.securityId,
      currency: market.instrument.currency,
      amount: size.amount,
    });
    const { order, event } = openOrder(orderId, command, market, acceptance, { ...size, id: reservationId }, now);
    return { order: await deps.store.create(order, event), replayed: false };
  } catch (error) {
    // Nothing was held (a check failed, or accounting refused the hold): the key is freed for a corrected retry.
    // Otherwise the outcome is unknown (a reserve that timed out may have succeeded; an order write may have
    // committed): the claim stays, and a retry after its lease reuses the same order id, which makes both the
    // reserve and the insert no-ops instead of leaving an orphaned hold behind.
    const refused = error instanceof OrderError && (error.code === "INSUFFICIENT_FUNDS" || error.code === "INSUFFICIENT_POSITION");
    if (!mayHoldFunds || refused) await deps.keys.forget(command.portfolioId, command.idempotencyKey, orderId);
    throw error;
  }
}

type Claimed = { kind: "claimed"; orderId: string; heldAmount: Decimal | null; waited: boolean } | { kind: "replay"; orderId: string };

async function claimKey(
  deps: SubmitOrderDeps,
  portfolioId: string,
  key: string,
  fingerprint: string,
): Promise<Claimed> {
  const proposedOrderId = deps.newOrderId();
  let waitedMs = 0;
  let pauseMs = 5;
  for (;;) {
    const claim = await deps.keys.claim(portfolioId, key, fingerprint, proposedOrderId);
    if (claim.kind === "claimed") return { ...claim, waited: waitedMs > 0 };
    if (claim.kind === "completed") return { kind: "replay", orderId: replayOrderId(claim, fingerprint) };
    // In flight: a different payload is refused at once; the same payload waits for the original's answer.
    replayOrderId({ fingerprint: claim.fingerprint, orderId: "" }, fingerprint);
    if (waitedMs >= deps.inFlightWaitMs) {
      throw new OrderError(
        "IDEMPOTENCY_KEY_IN_FLIGHT",
        "an order with this idempotency_key is still being submitted",
        [],
        {},
        { retryAfterMs: pauseMs },
      );
    }
    await deps.sleep(pauseMs);
    waitedMs += pauseMs;
    pauseMs = Math.min(pauseMs * 2, 100);
  }
}
