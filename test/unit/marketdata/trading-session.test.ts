import { expect } from "chai";
import { CRYPTO_SESSION, US_EQUITY_SESSION } from "../../../services/marketdata/domain/instrument-seed";
import { sessionStateAt } from "../../../services/marketdata/domain/trading-session";

const at = (iso: string) => new Date(iso);

describe("marketdata trading sessions", () => {
  it("is open during New York regular hours on a weekday in winter (EST, UTC-5)", () => {
    const state = sessionStateAt(US_EQUITY_SESSION, at("2026-01-13T15:00:00Z")); // Tuesday 10:00 EST
    expect(state.isOpen).to.equal(true);
    expect(state.nextCloseAt?.toISOString()).to.equal("2026-01-13T21:00:00.000Z");
    expect(state.nextOpenAt?.toISOString()).to.equal("2026-01-14T14:30:00.000Z");
  });

  it("uses the exchange zone's daylight saving time in summer (EDT, UTC-4)", () => {
    expect(sessionStateAt(US_EQUITY_SESSION, at("2026-07-14T13:30:00Z")).isOpen).to.equal(true); // 09:30 EDT
    expect(sessionStateAt(US_EQUITY_SESSION, at("2026-07-14T13:29:59Z")).isOpen).to.equal(false);
    expect(sessionStateAt(US_EQUITY_SESSION, at("2026-07-14T19:59:59Z")).isOpen).to.equal(true);
    expect(sessionStateAt(US_EQUITY_SESSION, at("2026-07-14T20:00:00Z")).isOpen).to.equal(false); // 16:00 EDT
  });

  it("opens at the opening minute and closes exactly at the closing minute", () => {
    expect(sessionStateAt(US_EQUITY_SESSION, at("2026-01-13T14:30:00Z")).isOpen).to.equal(true);
    const atClose = sessionStateAt(US_EQUITY_SESSION, at("2026-01-13T21:00:00Z"));
    expect(atClose.isOpen).to.equal(false);
    expect(atClose.nextOpenAt?.toISOString()).to.equal("2026-01-14T14:30:00.000Z");
  });

  it("before the open on a weekday, the next open is the same morning", () => {
    const state = sessionStateAt(US_EQUITY_SESSION, at("2026-01-13T12:00:00Z")); // 07:00 EST
    expect(state.isOpen).to.equal(false);
    expect(state.nextOpenAt?.toISOString()).to.equal("2026-01-13T14:30:00.000Z");
    expect(state.nextCloseAt?.toISOString()).to.equal("2026-01-13T21:00:00.000Z");
  });

  it("is closed on weekends and next opens on Monday morning", () => {
    const state = sessionStateAt(US_EQUITY_SESSION, at("2026-01-17T16:00:00Z")); // Saturday
    expect(state.isOpen).to.equal(false);
    expect(state.nextOpenAt?.toISOString()).to.equal("2026-01-19T14:30:00.000Z");
  });

  it("finds Monday's open across the spring-forward weekend in the new offset", () => {
    // DST starts Sunday 2026-03-08; Friday closes at 21:00 UTC, Monday opens at 13:30 UTC.
    const state = sessionStateAt(US_EQUITY_SESSION, at("2026-03-06T22:00:00Z"));
    expect(state.isOpen).to.equal(false);
    expect(state.nextOpenAt?.toISOString()).to.equal("2026-03-09T13:30:00.000Z");
    expect(state.nextCloseAt?.toISOString()).to.equal("2026-03-09T20:00:00.000Z");
  });

  it("keeps crypto open around the clock, weekends included", () => {
    for (const iso of ["2026-01-17T03:00:00Z", "2026-01-13T15:00:00Z", "2026-12-25T00:00:00Z"]) {
      expect(sessionStateAt(CRYPTO_SESSION, at(iso))).to.deep.equal({ isOpen: true });
    }
  });
});
