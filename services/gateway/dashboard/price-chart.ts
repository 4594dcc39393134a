// The price chart: one-minute candles for the selected symbol, with its live quotes drawn over them as a line.
// The chart owns the selected symbol; the quote board changes it through chartSymbol.
import type { marketdata } from "../../../clients/browser";
import { $, api, errorText } from "./page";

export let selected = "BTC";

let bars: marketdata.Bar[] = [];
let livePoints: { time: number; price: string }[] = [];

/** Points the chart at another symbol, forgetting the previous symbol's candles and live points. */
export function chartSymbol(symbol: string): void {
  selected = symbol;
  livePoints = [];
  bars = [];
}

export async function loadBars(): Promise<void> {
  const symbol = selected;
  try {
    const response = await api.marketData.getBars({ symbol, interval: "BAR_INTERVAL_ONE_MINUTE", pageSize: 120 });
    if (symbol !== selected) return;
    bars = response.bars;
    drawChart();
  } catch (error) {
    $("chart-title").textContent = `${symbol} — ${errorText(error)}`;
  }
}

export function pushLivePoint(quote: marketdata.Quote): void {
  livePoints.push({ time: Date.parse(quote.timestamp ?? new Date().toISOString()), price: quote.last });
  if (livePoints.length > 600) livePoints = livePoints.slice(-600);
  drawChart();
}

export function drawChart(): void {
  const canvas = $<HTMLCanvasElement>("chart");
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || 640;
  const height = canvas.clientHeight || 240;
  canvas.width = width * ratio;
  canvas.height = height * ratio;
  const g = canvas.getContext("2d")!;
  g.scale(ratio, ratio);
  g.clearRect(0, 0, width, height);
  // Pixel positions only: prices become numbers here for drawing, never for arithmetic on money.
  const candles = bars.map((b) => ({ time: Date.parse(b.startTime ?? ""), open: +b.open, high: +b.high, low: +b.low, close: +b.close }));
  const live = livePoints.map((p) => ({ time: p.time, price: +p.price }));
  const prices = [...candles.flatMap((c) => [c.high, c.low]), ...live.map((p) => p.price)];
  $("chart-title").textContent = `${selected}${live.length ? ` ${livePoints.at(-1)!.price}` : ""}`;
  if (prices.length === 0) {
    g.fillStyle = "#8b95ab";
    g.fillText("waiting for prices…", 12, 20);
    return;
  }
  const times = [...candles.map((c) => c.time), ...live.map((p) => p.time)];
  const t0 = Math.min(...times);
  const t1 = Math.max(...times, t0 + 60_000);
  const lo = Math.min(...prices);
  const hi = Math.max(...prices);
  const pad = (hi - lo) * 0.08 || hi * 0.001 || 1;
  const x = (t: number) => 70 + ((t - t0) / (t1 - t0)) * (width - 82);
  const y = (p: number) => 10 + (1 - (p - (lo - pad)) / (hi - lo + 2 * pad)) * (height - 30);
  g.strokeStyle = "#263048";
  g.fillStyle = "#8b95ab";
  g.font = "11px system-ui";
  for (let i = 0; i <= 4; i++) {
    const price = lo - pad + ((hi - lo + 2 * pad) * i) / 4;
    g.beginPath();
    g.moveTo(66, y(price));
    g.lineTo(width, y(price));
    g.stroke();
    g.fillText(price.toPrecision(7), 2, y(price) + 4);
  }
  const candleWidth = Math.max(2, Math.min(10, ((width - 82) / Math.max(1, (t1 - t0) / 60_000)) * 0.6));
  for (const c of candles) {
    g.strokeStyle = g.fillStyle = c.close >= c.open ? "#2ecc71" : "#ff5c5c";
    g.beginPath();
    g.moveTo(x(c.time), y(c.high));
    g.lineTo(x(c.time), y(c.low));
    g.stroke();
    g.fillRect(x(c.time) - candleWidth / 2, y(Math.max(c.open, c.close)), candleWidth, Math.max(1, Math.abs(y(c.open) - y(c.close))));
  }
  if (live.length > 1) {
    g.strokeStyle = "#4ea1ff";
    g.lineWidth = 1.5;
    g.beginPath();
    live.forEach((p, i) => (i === 0 ? g.moveTo(x(p.time), y(p.price)) : g.lineTo(x(p.time), y(p.price))));
    g.stroke();
  }
}
