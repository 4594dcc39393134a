import type { TradingSession } from "./instrument";

/** Whether a session is open at an instant, and when it next opens or closes. */
export interface SessionState {
  readonly isOpen: boolean;
  /** Next opening instant; absent when the session never closes. */
  readonly nextOpenAt?: Date;
  /** Next closing instant; absent when the session never closes. */
  readonly nextCloseAt?: Date;
}

interface LocalDateTime {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  /** ISO weekday, 1 = Monday … 7 = Sunday. */
  readonly isoWeekday: number;
  readonly secondOfDay: number;
}

const WEEKDAYS: Record<string, number> = { Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6, Sun: 7 };
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      weekday: "short",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

function localDateTime(atMs: number, timeZone: string): LocalDateTime {
  const parts: Record<string, string> = {};
  for (const part of formatterFor(timeZone).formatToParts(atMs)) parts[part.type] = part.value;
  return {
    year: Number(parts.year),
    month: Number(parts.month),
    day: Number(parts.day),
    isoWeekday: WEEKDAYS[parts.weekday!]!,
    secondOfDay: Number(parts.hour) * 3600 + Number(parts.minute) * 60 + Number(parts.second),
  };
}

/** Offset of the zone from UTC at an instant, in ms (positive east of Greenwich). */
function zoneOffsetMs(atMs: number, timeZone: string): number {
  const local = localDateTime(atMs, timeZone);
  const asUtc = Date.UTC(local.year, local.month - 1, local.day) + local.secondOfDay * 1000;
  return asUtc - Math.floor(atMs / 1000) * 1000;
}

/**
 * The UTC instant of a wall-clock time in a zone. The offset is taken at the first guess and
 * re-checked at the result, which is enough to land on the right side of a DST change.
 */
function zonedTimeToUtcMs(year: number, month: number, day: number, secondOfDay: number, timeZone: string): number {
  const wallClockAsUtc = Date.UTC(year, month - 1, day) + secondOfDay * 1000;
  const firstOffset = zoneOffsetMs(wallClockAsUtc, timeZone);
  const candidate = wallClockAsUtc - firstOffset;
  const secondOffset = zoneOffsetMs(candidate, timeZone);
  return secondOffset === firstOffset ? candidate : wallClockAsUtc - secondOffset;
}

function secondsOf(hhmm: string): number {
  const match = /^(\d{2}):(\d{2})$/.exec(hhmm);
  if (!match) throw new RangeError(`session time "${hhmm}" is not HH:MM`);
  return Number(match[1]) * 3600 + Number(match[2]) * 60;
}

/**
 * The state of a trading session at an instant. Exchange sessions are open on their trading days
 * from the opening time (inclusive) to the closing time (exclusive), in the exchange's own zone;
 * unlike Hub Investments, the server's zone plays no part and weekends are closed.
 */
export function sessionStateAt(session: TradingSession, at: Date): SessionState {
  if (session.kind === "ALWAYS_OPEN") return { isOpen: true };

  const openSecond = secondsOf(session.openLocal);
  const closeSecond = secondsOf(session.closeLocal);
  const now = localDateTime(at.getTime(), session.timeZone);
  const isTradingDay = session.tradingDays.includes(now.isoWeekday);
  const isOpen = isTradingDay && now.secondOfDay >= openSecond && now.secondOfDay < closeSecond;

  // Walk forward a calendar day at a time (at most a week) to the next trading day whose opening
  // is still ahead; the close that matters is the one of that same day unless we are open now.
  let nextOpenAt: Date | undefined;
  let nextTradingDayClose: Date | undefined;
  for (let offsetDays = 0; offsetDays <= 7 && !nextOpenAt; offsetDays += 1) {
    const day = new Date(Date.UTC(now.year, now.month - 1, now.day + offsetDays));
    const isoWeekday = ((day.getUTCDay() + 6) % 7) + 1;
    if (!session.tradingDays.includes(isoWeekday)) continue;
    if (offsetDays === 0 && now.secondOfDay >= openSecond) continue;
    const [y, m, d] = [day.getUTCFullYear(), day.getUTCMonth() + 1, day.getUTCDate()];
    nextOpenAt = new Date(zonedTimeToUtcMs(y, m, d, openSecond, session.timeZone));
    nextTradingDayClose = new Date(zonedTimeToUtcMs(y, m, d, closeSecond, session.timeZone));
  }

  const nextCloseAt = isOpen
    ? new Date(zonedTimeToUtcMs(now.year, now.month, now.day, closeSecond, session.timeZone))
    : nextTradingDayClose;
  return { isOpen, nextOpenAt, nextCloseAt };
}
