/**
 * Trading sessions from the market data calendar: Monday to Friday, [open, close) local time in an IANA zone,
 * or always open (crypto). Exchange holidays are not modelled (market data does not publish them).
 * Computed here rather than trusted from a flag so that submit-time checks and DAY expiry agree on one clock.
 *
 * The rule itself is market data's (`sessionStateAt`), so the two services never disagree about when a session
 * is open. Working it out costs tens of microseconds (time zone arithmetic through Intl), and an order asks at
 * submission and at every execution, so each calendar's answer is kept until its next open or close.
 */
import { sessionStateAt, type SessionState as CalendarState } from "../../marketdata/domain/trading-session";

/** The calendar of an instrument, as market data publishes it. */
export interface TradingCalendar {
  timeZone: string;
  /** "HH:MM" local; empty when alwaysOpen. */
  openTime: string;
  /** "HH:MM" local, after openTime; empty when alwaysOpen. */
  closeTime: string;
  alwaysOpen: boolean;
}

/** Whether the session is open at an instant and, if so, when it closes. */
export interface SessionState {
  open: boolean;
  /** The close of the current session (open) or of the next one (closed); null when always open. */
  closesAt: Date | null;
}

/** The published calendar's trading days: Monday to Friday (ISO weekdays). */
const MONDAY_TO_FRIDAY = [1, 2, 3, 4, 5] as const;
/** Distinct calendars are few (one per exchange); the bound only guards against a misbehaving feed. */
const MAX_REMEMBERED = 1_000;

/** One calendar's state, valid for instants in [from, until): no open or close falls in between. */
interface Remembered {
  from: number;
  until: number;
  state: SessionState;
}

const remembered = new Map<string, Remembered>();

/** The session state of a calendar at `now`. */
export function sessionState(calendar: TradingCalendar, now: Date): SessionState {
  if (calendar.alwaysOpen) return { open: true, closesAt: null };
  const key = `${calendar.timeZone}\u0000${calendar.openTime}\u0000${calendar.closeTime}`;
  const at = now.getTime();
  const known = remembered.get(key);
  if (known !== undefined && known.from <= at && at < known.until) return known.state;

  const computed: CalendarState = sessionStateAt(
    {
      kind: "EXCHANGE_HOURS",
      timeZone: calendar.timeZone,
      openLocal: calendar.openTime,
      closeLocal: calendar.closeTime,
      tradingDays: MONDAY_TO_FRIDAY,
    },
    now,
  );
  const state: SessionState = { open: computed.isOpen, closesAt: computed.nextCloseAt ?? null };
  const nextChange = computed.isOpen ? computed.nextCloseAt : computed.nextOpenAt;
  if (nextChange !== undefined) {
    if (remembered.size >= MAX_REMEMBERED) remembered.clear();
    remembered.set(key, { from: at, until: nextChange.getTime(), state });
  }
  return state;
}
