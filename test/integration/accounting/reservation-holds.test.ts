// The Postgres holds adapter, whose concurrent holds are placed in batches (one hold_reservations call per batch):
// the availability rule must hold inside a batch and across batches, and a hold that fails must fail alone.
import { randomBytes, randomUUID } from "node:crypto";
import { expect } from "chai";
import Decimal from "decimal.js";
import { createReservationHolds } from "../../../services/accounting/adapters/reservation-holds";
import type { ReservationHolds } from "../../../services/accounting/domain/manage-reservations";
import { proposedReservation } from "../../../services/accounting/domain/reservation";
import { type Database } from "../../../services/platform/database";
import { openAccountingDatabase, type AccountingTestDatabase } from "../../support/accounting-database";

const id24 = () => randomBytes(12).toString("hex");
const NOW = new Date("2026-11-02T15:00:00Z");

describe("accounting adapters: holds placed in batches", function () {
  this.timeout(60_000);
  let ledger: AccountingTestDatabase;
  let db: Database;
  let holds: ReservationHolds;

  before(async () => {
    ledger = await openAccountingDatabase(8);
    db = ledger.db;
    holds = createReservationHolds(db.knex, "accounting");
  });

  after(async () => {
    await ledger?.close();
  });

  async function fundCash(portfolioId: string, amount: string): Promise<void> {
    await db.knex.raw("insert into accounting.balances (portfolio_id, security_id, quantity_long) values (?, null, ?)", [portfolioId, amount]);
  }

  const hold = (portfolioId: string, amount: string, orderId: string = randomUUID(), reservationId: string = randomUUID()) =>
    holds.hold(proposedReservation({ reservationId, orderId, portfolioId, securityId: null, amount: new Decimal(amount) }, NOW));

  async function openHeld(portfolioId: string): Promise<string> {
    const { rows } = await db.knex.raw<{ rows: { held: string | null }[] }>(
      "select sum(amount - consumed - released)::text as held from accounting.reservations where portfolio_id = ? and status = 'OPEN'",
      [portfolioId],
    );
    return rows[0].held ?? "0";
  }

  it("grants exactly what the balance covers when many holds of several portfolios arrive together", async () => {
    const [a, b, c] = [id24(), id24(), id24()];
    await fundCash(a, "1000");
    await fundCash(b, "250");
    // c has no cash row at all: every hold is refused with nothing available.
    const calls = Array.from({ length: 60 }, (_, i) => [a, b, c][i % 3]).map((p) => hold(p, "100").then((r) => ({ p, r })));
    const results = await Promise.all(calls);
    const created = (p: string) => results.filter((x) => x.p === p && x.r.outcome === "CREATED").length;
    expect([created(a), created(b), created(c)]).to.deep.equal([10, 2, 0]);
    expect(await openHeld(a)).to.equal("1000.00000000");
    expect(await openHeld(b)).to.equal("200.00000000");
    const refusedB = results.filter((x) => x.p === b && x.r.outcome === "REFUSED").map((x) => x.r.available.toFixed());
    expect(new Set(refusedB)).to.deep.equal(new Set(["50"]));
    const refusedC = results.filter((x) => x.p === c).map((x) => x.r.outcome);
    expect(new Set(refusedC)).to.deep.equal(new Set(["REFUSED"]));
  });

  it("answers EXISTING for an order held twice in the same batch, and holds it once", async () => {
    const p = id24();
    await fundCash(p, "1000");
    const orderId = randomUUID();
    const [first, second] = await Promise.all([hold(p, "300", orderId), hold(p, "300", orderId)]);
    expect([first.outcome, second.outcome].sort()).to.deep.equal(["CREATED", "EXISTING"]);
    expect(await openHeld(p)).to.equal("300.00000000");
  });

  it("fails only the hold the database rejects, and places the others of its batch", async () => {
    const p = id24();
    await fundCash(p, "1000");
    const taken = randomUUID();
    await hold(p, "1", randomUUID(), taken);
    // A new order under a reservation id that is taken: the batch's statement fails on the primary key, the batch is
    // asked again (as for a lost order-id race), then hold by hold, and only this hold fails.
    const outcomes = await Promise.allSettled([hold(p, "10"), hold(p, "5", randomUUID(), taken), hold(p, "20"), hold(p, "30")]);
    expect(outcomes.map((o) => o.status)).to.deep.equal(["fulfilled", "rejected", "fulfilled", "fulfilled"]);
    expect((outcomes[1] as PromiseRejectedResult).reason).to.have.property("code", "23505");
    expect(await openHeld(p)).to.equal("61.00000000");
  });
});
