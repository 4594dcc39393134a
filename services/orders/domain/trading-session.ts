/**
 * Trading sessions from the market data calendar: Monday to Friday, [open, close) local time in an IANA zone,
 * or always open (crypto). Exchange holidays are not modelled (market data does not publish them).
 * Computed here rather than trusted from a flag so that submit-time checks and DAY expiry agree on one clock.
 */

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

const WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

/** The session state of a calendar at `now`. */
export function sessionState(calendar: TradingCalendar, now: Date): SessionState {
  if (calendar.alwaysOpen) return { open: true, closesAt: null };
  const openMinutes = minutesOf(calendar.openTime);
  const closeMinutes = minutesOf(calendar.closeTime);
  const local = localParts(now, calendar.timeZone);
  const minute = local.hour * 60 + local.minute;
  const weekday = local.weekday >= 1 && local.weekday <= 5;
  const open = weekday && minute >= openMinutes && minute < closeMinutes;
  // Today's close if still ahead on a weekday, else the next weekday's close.
  let dayOffset = 0;
  if (!weekday || minute >= closeMinutes) {
    dayOffset = 1;
    while (![1, 2, 3, 4, 5].includes((local.weekday + dayOffset) % 7)) dayOffset++;
  }
  const closesAt = zonedInstant(local.year, local.month, local.day + dayOffset, closeMinutes, calendar.timeZone);
  return { open, closesAt };
}

function minutesOf(hhmm: string): number {
  const match = /^(\d{2}):(\d{2})$/.exec(hhmm);
  if (!match) throw new RangeError(`invalid session time "${hhmm}"`);
  return Number(match[1]) * 60 + Number(match[2]);
}

interface LocalParts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  weekday: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function localParts(instant: Date, timeZone: string): LocalParts {
  let format = formatters.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
      weekday: "short",
    });
    formatters.set(timeZone, format);
  }
  const parts: Record<string, string> = {};
  for (const part of format.formatToParts(instant)) parts[part.type] = part.value;
  return {
    year: Number(parts.year),
    month: Number(parts.month),
    day: Number(parts.day),
    hour: Number(parts.hour),
    minute: Number(parts.minute),
    weekday: WEEKDAYS.indexOf(parts.weekday),
  };
}

/** The UTC instant of a local wall-clock time in a zone (two passes settle daylight-saving offsets). */
function zonedInstant(year: number, month: number, day: number, minutes: number, timeZone: string): Date {
  const wall = Date.UTC(year, month - 1, day, Math.floor(minutes / 60), minutes % 60);
  let guess = wall;
  for (let pass = 0; pass < 2; pass++) {
    const seen = localParts(new Date(guess), timeZone);
    const seenWall = Date.UTC(seen.year, seen.month - 1, seen.day, seen.hour, seen.minute);
    guess += wall - seenWall;
  }
  return new Date(guess - (guess % 60000));
}

