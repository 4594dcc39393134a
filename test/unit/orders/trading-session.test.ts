import { expect } from "chai";
import { sessionStateAt } from "../../../services/marketdata/domain/trading-session";
import { sessionState, type TradingCalendar } from "../../../services/orders/domain/trading-session";

const NYSE: TradingCalendar = { timeZone: "America/New_York", openTime: "09:30", closeTime: "16:00", alwaysOpen: false };

describe("orders domain: trading sessions", () => {
  it("is open on a weekday between the open and the close, and closes at 16:00 local", () => {
    const state = sessionState(NYSE, new Date("2026-03-02T15:00:00Z"));
    expect(state.open).to.equal(true);
    expect(state.closesAt?.toISOString()).to.equal("2026-03-02T21:00:00.000Z");
  });

  it("follows daylight saving time: the summer close is 20:00 UTC", () => {
    const state = sessionState(NYSE, new Date("2026-07-01T14:00:00Z"));
    expect(state.open).to.equal(true);
    expect(state.closesAt?.toISOString()).to.equal("2026-07-01T20:00:00.000Z");
  });

  it("opens at exactly 09:30 and is closed at exactly 16:00", () => {
    expect(sessionState(NYSE, new Date("2026-03-02T14:30:00Z")).open).to.equal(true);
    expect(sessionState(NYSE, new Date("2026-03-02T14:29:59Z")).open).to.equal(false);
    expect(sessionState(NYSE, new Date("2026-03-02T21:00:00Z")).open).to.equal(false);
  });

  it("is closed at the weekend and points at Monday's close", () => {
    const state = sessionState(NYSE, new Date("2026-03-07T15:00:00Z"));
    expect(state.open).to.equal(false);
    expect(state.closesAt?.toISOString()).to.equal("2026-03-09T20:00:00.000Z");
  });

  it("after Friday's close the next close is Monday's", () => {
    const state = sessionState(NYSE, new Date("2026-03-06T22:00:00Z"));
    expect(state.closesAt?.toISOString()).to.equal("2026-03-09T20:00:00.000Z");
  });

  it("an always-open calendar is open at any time and has no close", () => {
    const state = sessionState({ timeZone: "UTC", openTime: "", closeTime: "", alwaysOpen: true }, new Date("2026-03-07T03:00:00Z"));
    expect(state).to.deep.equal({ open: true, closesAt: null });
  });

  it("answers as market data's rule does at every instant, in any order, across opens, closes and a DST change", () => {
    // Every 7 minutes over two weeks around the US spring-forward (2026-03-08), visited in order, backwards and
    // shuffled: a remembered answer must never be used outside the stretch where it holds.
    const start = Date.parse("2026-03-02T00:00:00Z");
    const instants = Array.from({ length: (14 * 24 * 60) / 7 }, (_, i) => start + i * 7 * 60_000);
    let seed = 7;
    const shuffled = [...instants].sort(() => ((seed = (seed * 16807) % 2147483647) % 3) - 1);
    const calendars: TradingCalendar[] = [NYSE, { timeZone: "Europe/London", openTime: "08:00", closeTime: "16:30", alwaysOpen: false }];
    for (const order of [instants, [...instants].reverse(), shuffled]) {
      for (const at of order) {
        for (const calendar of calendars) {
          const expected = sessionStateAt(
            { kind: "EXCHANGE_HOURS", timeZone: calendar.timeZone, openLocal: calendar.openTime, closeLocal: calendar.closeTime, tradingDays: [1, 2, 3, 4, 5] },
            new Date(at),
          );
          const state = sessionState(calendar, new Date(at));
          const where = `${calendar.timeZone} at ${new Date(at).toISOString()}`;
          expect(state.open, where).to.equal(expected.isOpen);
          expect(state.closesAt?.toISOString(), where).to.equal(expected.nextCloseAt?.toISOString());
        }
      }
    }
  });
});
