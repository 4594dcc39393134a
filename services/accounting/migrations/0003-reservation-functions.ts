// CreateReservation and ReleaseReservation as one round trip each. Both used to be a transaction of six to nine
// statements holding the portfolio's advisory lock across every round trip, so on a loaded machine each hold kept
// the portfolio (and its fills, withdrawals and other orders) waiting for tens of milliseconds of network and
// scheduling time, and holds per portfolio stayed near 25/s whatever the concurrency.
//
// A function runs the same steps inside the server: take the portfolio lock (the very key lockPortfolios uses, so
// fills, cash movements and posts still serialise with holds), then read with a fresh snapshot per statement (READ
// COMMITTED inside a volatile function), so the availability check sees every hold committed before the lock was
// granted, and no two holds can over-commit the balance. The lock is released at commit, right after the function.
//
// The rule itself (a hold fits within balance − open holds) is stated by the domain's openReservation; here it is
// applied atomically and the function reports the available amount, from which the domain builds its error.
import type { Knex } from "knex";
import type { MigrationContext } from "../../platform/database";

export async function up(knex: Knex, { schema }: MigrationContext): Promise<void> {
  const s = (name: string) => `"${schema}".${name}`;
  const lock = `pg_advisory_xact_lock(hashtextextended('tradeplane.accounting.portfolio:' || p_portfolio_id, 0))`;

  // outcome: CREATED (the new row; available is what is left after it), EXISTING (the order's hold, unchanged;
  // available before any new hold), REFUSED (nothing written; available is what could have been held).
  await knex.raw(`
    create function ${s("hold_reservation")}(
      p_reservation_id text, p_order_id text, p_portfolio_id text, p_security_id text, p_amount numeric, p_now timestamptz)
    returns table (outcome text, available numeric, reservation_id text, order_id text, portfolio_id text, security_id text,
                   amount numeric, consumed numeric, released numeric, status text, created_at timestamptz, updated_at timestamptz)
    language plpgsql volatile as $fn$
    declare
      v_balance numeric;
      v_held numeric;
      v_existing ${s("reservations")}%rowtype;
    begin
      perform ${lock};
      select coalesce(sum(r.amount - r.consumed - r.released), 0) into v_held from ${s("reservations")} r
       where r.status = 'OPEN' and r.portfolio_id = p_portfolio_id and r.security_id is not distinct from p_security_id;
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

  // The reservation by its id (or the order id it was made for), after freeing its remainder if it was still open;
  // no row when there is no such reservation.
  await knex.raw(`
    create function ${s("release_reservation")}(p_id text, p_now timestamptz)
    returns setof ${s("reservations")}
    language plpgsql volatile as $fn$
    declare
      p_portfolio_id text;
      v_id text;
    begin
      -- A reservation's portfolio never changes, so it can be read before the lock.
      select r.portfolio_id, r.reservation_id into p_portfolio_id, v_id from ${s("reservations")} r
       where r.reservation_id = p_id or r.order_id = p_id order by (r.reservation_id = p_id) desc limit 1;
      if not found then
        return;
      end if;
      perform ${lock};
      return query
        update ${s("reservations")} r set released = r.amount - r.consumed, status = 'RELEASED', updated_at = p_now
         where r.reservation_id = v_id and r.status = 'OPEN'
        returning r.*;
      if not found then
        return query select * from ${s("reservations")} r where r.reservation_id = v_id;
      end if;
    end
    $fn$`);
}
