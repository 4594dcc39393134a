// Open holds are totalled per asset through an index on both columns: the portfolio and the cash-or-security key.
//
// Every query that totals a portfolio's open holds for one asset (a new hold in `place_hold`, the open holds a fill
// batch reads, a withdrawal's check, the balances view) used to match the asset with `security_id is not distinct
// from X`, so that cash holds (security_id NULL) and security holds could share one condition. Postgres cannot use
// IS NOT DISTINCT FROM as an index condition: the probe found the portfolio in `reservations_open` and then filtered
// every open hold of the portfolio, so a portfolio with thousands of resting orders paid for all of them on each
// new hold and each fill batch.
//
// The key is now `coalesce(security_id, '')`: security ids are 24 characters (checked), so '' can only be cash,
// and `coalesce(r.security_id, '') = coalesce(X, '')` is an equality the index answers, with cash and security holds
// kept apart exactly as before. The index replaces `reservations_open` (same rows: open holds only).
//
// On databases where migration 0004 made the ledger's ids compare as bytes (COLLATE "C"), the reservations' portfolio
// and security columns get the same collation. An index is used only for comparisons in its own collation, and the
// balances view compares these columns with the balances' columns: with "C" on one side and the default on the
// other, the comparison is made in "C" and the index (in the default collation) is skipped. Equality is byte equality
// under every deterministic collation, so no result changes.
//
// `place_hold` (migration 0005; `hold_reservations` and `hold_reservation` call it) is replaced with the same
// signature and the same rule; only its open-hold total matches the new key.
import type { Knex } from "knex";
import type { MigrationContext } from "../../platform/database";
import { defaultCollationIsByteOrder } from "./0004-byte-order-ids";

export async function up(knex: Knex, { schema }: MigrationContext): Promise<void> {
  const s = (name: string) => `"${schema}".${name}`;
  const reservations = `${schema}.reservations`;
  await knex.raw(`drop index ${s("reservations_open")}`);
  if (await defaultCollationIsByteOrder(knex)) {
    // Same type, so the rows are not rewritten; no index is left on these columns to rebuild.
    await knex.raw(`alter table ?? alter column portfolio_id type text collate "C", alter column security_id type text collate "C"`, [reservations]);
  }
  await knex.raw(`create index reservations_open_by_asset on ?? (portfolio_id, (coalesce(security_id, ''))) where status = 'OPEN'`, [reservations]);

  const columns = `outcome text, available numeric, reservation_id text, order_id text, portfolio_id text, security_id text,
                   amount numeric, consumed numeric, released numeric, status text, created_at timestamptz, updated_at timestamptz`;
  // outcome: CREATED (the new row; available is what is left after it), EXISTING (the order's hold, unchanged;
  // available before any new hold), REFUSED (nothing written; available is what could have been held).
  await knex.raw(`
    create or replace function ${s("place_hold")}(
      p_reservation_id text, p_order_id text, p_portfolio_id text, p_security_id text, p_amount numeric, p_now timestamptz)
    returns table (${columns})
    language plpgsql volatile as $fn$
    declare
      v_balance numeric;
      v_held numeric;
      v_existing ${s("reservations")}%rowtype;
    begin
      select coalesce(sum(r.amount - r.consumed - r.released), 0) into v_held from ${s("reservations")} r
       where r.status = 'OPEN' and r.portfolio_id = p_portfolio_id and coalesce(r.security_id, '') = coalesce(p_security_id, '');
      if p_security_id is null then
        select b.quantity_long into v_balance from ${s("balances")} b where b.portfolio_id = p_portfolio_id and b.security_id is null;
      else
        select b.quantity_long into v_balance from ${s("balances")} b where b.portfolio_id = p_portfolio_id and b.security_id = p_security_id;
      end if;
      v_balance := coalesce(v_balance, 0);
      select * into v_existing from ${s("reservations")} r where r.order_id = p_order_id;
      if found then
        return query select 'EXISTING'::text, v_balance - v_held, v_existing.reservation_id, v_existing.order_id,
          v_existing.portfolio_id, v_existing.security_id, v_existing.amount, v_existing.consumed, v_existing.released,
          v_existing.status, v_existing.created_at, v_existing.updated_at;
        return;
      end if;
      if p_amount > v_balance - v_held then
        return query select 'REFUSED'::text, v_balance - v_held, null::text, null::text, null::text, null::text,
          null::numeric, null::numeric, null::numeric, null::text, null::timestamptz, null::timestamptz;
        return;
      end if;
      return query
        insert into ${s("reservations")} as r (reservation_id, order_id, portfolio_id, security_id, amount, consumed, released, status, created_at, updated_at)
        values (p_reservation_id, p_order_id, p_portfolio_id, p_security_id, p_amount, 0, 0, 'OPEN', p_now, p_now)
        returning 'CREATED'::text, v_balance - v_held - p_amount, r.reservation_id, r.order_id, r.portfolio_id, r.security_id,
          r.amount, r.consumed, r.released, r.status, r.created_at, r.updated_at;
    end
    $fn$`);
}
