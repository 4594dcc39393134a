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
  // The market is checked first, so the hold's size can be recorded with the key in the claim's one statement. A
  // replay ignores that check (and whatever it failed with): a completed key answers with its order whatever the
  // market does now.
  const instrumentRef = command.securityId !== "" ? { securityId: command.securityId } : { symbol: command.symbol };
  const early = await checkMarket(deps, command, instrumentRef).then(
    (checked) => ({ checked, error: null }),
    (error: unknown) => ({ checked: null, error }),
  );
  const claim = await claimKey(deps, command.portfolioId, command.idempotencyKey, fingerprint, early.checked?.size.amount ?? null);
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
    const checked = claim.waited ? await checkMarket(deps, command, instrumentRef) : early.checked;
    if (checked === null) throw early.error;
    // A takeover repeats the earlier attempt's hold exactly. A new claim recorded this attempt's size, unless the
    // claim waited and the size changed with the market, or a takeover finds no size recorded: then it is recorded
    // before asking.
    const recorded = claim.heldAmount;
    const amount = !claim.fresh && recorded !== null ? recorded : checked.size.amount;
    if (recorded === null || !recorded.equals(amount)) {
      await deps.keys.recordHold(command.portfolioId, command.idempotencyKey, orderId, amount);
    }
    mayHoldFunds = true;
    const { market, acceptance, now } = checked;
    const size = { ...checked.size, amount };
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

/** The market checks of a submit and the hold they size. */
async function checkMarket(deps: SubmitOrderDeps, command: SubmitCommand, instrumentRef: { symbol: string } | { securityId: string }) {
  const market = await deps.marketData.snapshot(instrumentRef);
  if (market === null) {
    const message = `symbol ${command.symbol || command.securityId} is not valid or not tradeable`;
    const field = command.securityId !== "" ? "security_id" : "symbol";
    throw new OrderError("INSTRUMENT_NOT_TRADABLE", message, [{ field, description: message }]);
  }
  const now = deps.clock.now();
  const acceptance = validateAgainstMarket(command, market, deps.rules, now);
  return { market, acceptance, now, size: sizeReservation(command, acceptance, deps.rules) };
}

type Claimed =
  | { kind: "claimed"; orderId: string; heldAmount: Decimal | null; fresh: boolean; waited: boolean }
  | { kind: "replay"; orderId: string };

async function claimKey(
  deps: SubmitOrderDeps,
  portfolioId: string,
  key: string,
  fingerprint: string,
  holdIfNew: Decimal | null,
): Promise<Claimed> {
  const proposedOrderId = deps.newOrderId();
  let waitedMs = 0;
  let pauseMs = 5;
  for (;;) {
    const claim = await deps.keys.claim(portfolioId, key, fingerprint, proposedOrderId, holdIfNew);
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
