/** Bar widths GetBars offers. */
export type BarInterval = "1m" | "1h" | "1d";

/** Width of each bar interval in ms; days are UTC days. */
export const BAR_INTERVAL_MS: Readonly<Record<BarInterval, number>> = Object.freeze({
  "1m": 60_000,
  "1h": 3_600_000,
  "1d": 86_400_000,
});
