// The tradeplane dashboard: plain TypeScript on the browser client, bundled by the gateway at first request.
// Quotes and order events arrive as resumable SSE streams; the portfolio is re-read whenever an order event
// arrives (and every few seconds, as prices move). Amounts are shown as the decimal strings the API sends;
// differences use decimal.js. Only chart pixel positions are plain numbers.
import Decimal from "decimal.js";
import { createTradeplaneClient, TradeplaneError, type accounting, type marketdata, type orders, type Subscription } from "../../../clients/browser";

const SYMBOLS = ["BTC", "ETH", "SOL", "AAPL", "MSFT", "GOOGL", "TSLA", "VOO"];
const OPEN_STATUSES = new Set(["ORDER_STATUS_PENDING_NEW", "ORDER_STATUS_NEW", "ORDER_STATUS_PARTIALLY_FILLED"]);

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

/** Settings from the URL fragment (`#token=...&portfolio=...`, kept out of server logs) or session storage. */
function initialSettings(): { token: string; portfolio: string } {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const token = fragment.get("token") ?? sessionStorage.getItem("tp.token") ?? "";
  let portfolio = fragment.get("portfolio") ?? localStorage.getItem("tp.portfolio") ?? "";
  if (!/^[A-Za-z0-9]{24}$/.test(portfolio)) {
    portfolio = Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, "0")).join("");
  }
  if (fragment.has("token")) history.replaceState(null, "", location.pathname);
  return { token, portfolio };
}

const settings = initialSettings();
const tokenInput = $<HTMLInputElement>("token");
const portfolioInput = $<HTMLInputElement>("portfolio");
tokenInput.value = settings.token;
portfolioInput.value = settings.portfolio;

const api = createTradeplaneClient({ token: () => tokenInput.value.trim() || undefined, timeoutMs: 10_000 });

function text(value: string | undefined, places?: number): string {
  if (value === undefined || value === "") return "—";
  try {
    return places === undefined ? value : new Decimal(value).toFixed(places, Decimal.ROUND_HALF_EVEN);
  } catch {
    return value;
  }
}

function signed(value: string | undefined): string {
  if (value === undefined || value === "") return "";
  try {
    const d = new Decimal(value);
    return d.isZero() ? "" : d.isPositive() ? "up" : "down";
  } catch {
    return "";
  }
}

function statusPill(id: string, label: string, status: string): void {
  const pill = $(id);
  pill.textContent = `${label}: ${status}`;
  pill.className = `pill ${status}`;
}

function errorText(error: unknown): string {
  if (error instanceof TradeplaneError) return `${error.status}${error.reason ? ` (${error.reason})` : ""}: ${error.message}`;
  return String(error);
}

// ---- Quote board -------------------------------------------------------------------------------------------

interface QuoteRow {
  row: HTMLTableRowElement;
  first?: string;
  last?: string;
}

const quoteRows = new Map<string, QuoteRow>();
let selected = "BTC";

function renderQuoteRows(): void {
  const body = $("quote-rows");
  const ticketSymbol = $<HTMLSelectElement>("ticket-symbol");
  for (const symbol of SYMBOLS) {
    const row = document.createElement("tr");
    row.dataset.symbol = symbol;
    row.innerHTML = `<td>${symbol}</td><td class="bid">—</td><td class="ask">—</td><td class="last">—</td><td class="chg">—</td><td class="seq muted">—</td>`;
    row.addEventListener("click", () => selectSymbol(symbol));
    body.append(row);
    quoteRows.set(symbol, { row });
    ticketSymbol.append(new Option(symbol, symbol));
  }
}

function showQuote(quote: marketdata.Quote): void {
  const entry = quoteRows.get(quote.symbol);
  if (entry === undefined) return;
  const cells = entry.row.cells;
  const previous = entry.last;
  entry.first ??= quote.last;
  entry.last = quote.last;
  cells[1]!.textContent = quote.bid;
  cells[2]!.textContent = quote.ask;
  cells[3]!.textContent = quote.last;
  if (previous !== undefined && previous !== quote.last) {
    const direction = new Decimal(quote.last).greaterThan(previous) ? "flash-up" : "flash-down";
    cells[3]!.classList.remove("flash-up", "flash-down");
    void cells[3]!.offsetWidth; // restart the animation
    cells[3]!.classList.add(direction);
  }
  const change = new Decimal(quote.last).minus(entry.first);
  const percent = new Decimal(entry.first).isZero() ? new Decimal(0) : change.div(entry.first).times(100);
  cells[4]!.textContent = `${change.isNegative() ? "" : "+"}${percent.toFixed(2, Decimal.ROUND_HALF_EVEN)}%`;
  cells[4]!.className = `chg ${signed(change.toFixed())}`;
  cells[5]!.textContent = quote.seq;
  entry.row.dataset.seq = quote.seq;
  if (quote.symbol === selected) pushLivePoint(quote);
}

let quoteStream: Subscription | undefined;

function followQuotes(): void {
  quoteStream?.close();
  quoteStream = api.marketData.streamQuotes(
    { symbols: SYMBOLS },
    {
      onMessage(frame) {
        const quote = frame.snapshot ?? frame.update;
        if (quote !== undefined) showQuote(quote);
      },
      onStatus: (status) => statusPill("quotes-status", "quotes", status),
      onError: (error) => statusPill("quotes-status", "quotes", `error ${errorText(error)}`),
    },
  );
}

// ---- Chart ---------------------------------------------------------------------------------------------------

let bars: marketdata.Bar[] = [];
let livePoints: { time: number; price: string }[] = [];

async function loadBars(): Promise<void> {
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

function pushLivePoint(quote: marketdata.Quote): void {
  livePoints.push({ time: Date.parse(quote.timestamp ?? new Date().toISOString()), price: quote.last });
  if (livePoints.length > 600) livePoints = livePoints.slice(-600);
  drawChart();
}

function drawChart(): void {
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

function selectSymbol(symbol: string): void {
  selected = symbol;
  livePoints = [];
  bars = [];
  for (const [name, entry] of quoteRows) entry.row.classList.toggle("selected", name === symbol);
  $<HTMLSelectElement>("ticket-symbol").value = symbol;
  drawChart();
  void loadBars();
}

// ---- Order ticket and deposit ----------------------------------------------------------------------------------

function setupTicket(): void {
  const type = $<HTMLSelectElement>("ticket-type");
  const limit = $<HTMLInputElement>("ticket-limit");
  type.addEventListener("change", () => {
    limit.disabled = type.value !== "ORDER_TYPE_LIMIT";
    if (!limit.disabled && limit.value === "") limit.value = quoteRows.get($<HTMLSelectElement>("ticket-symbol").value)?.last ?? "";
  });
  $("ticket").addEventListener("submit", async (event) => {
    event.preventDefault();
    const result = $("ticket-result");
    result.className = "muted";
    result.textContent = "submitting…";
    try {
      const { order } = await api.orders.submitOrder({
        idempotencyKey: crypto.randomUUID(),
        portfolioId: portfolioInput.value,
        symbol: $<HTMLSelectElement>("ticket-symbol").value,
        side: $<HTMLSelectElement>("ticket-side").value as "SIDE_BUY" | "SIDE_SELL",
        type: type.value as orders.OrderType,
        timeInForce: type.value === "ORDER_TYPE_MARKET" ? "TIME_IN_FORCE_IOC" : "TIME_IN_FORCE_GTC",
        quantity: $<HTMLInputElement>("ticket-quantity").value.trim(),
        limitPrice: limit.disabled ? "" : limit.value.trim(),
      });
      result.textContent = `order ${order?.orderId} ${order?.status?.replace("ORDER_STATUS_", "")}`;
      if (order !== undefined) showOrder(order);
    } catch (error) {
      result.className = "error";
      result.textContent = errorText(error);
    }
  });
  $("deposit").addEventListener("submit", async (event) => {
    event.preventDefault();
    const result = $("deposit-result");
    result.className = "muted";
    try {
      const amount = $<HTMLInputElement>("deposit-amount").value.trim();
      const response = await api.accounting.deposit({ portfolioId: portfolioInput.value, amount, idempotencyKey: crypto.randomUUID() });
      result.textContent = `deposited ${text(response.transaction?.quantity ?? amount, 2)}; ${text(response.dailyRemaining, 2)} left today`;
      void refreshPortfolio();
    } catch (error) {
      result.className = "error";
      result.textContent = errorText(error);
    }
  });
}

// ---- Blotter -----------------------------------------------------------------------------------------------------

const orderRows = new Map<string, HTMLTableRowElement>();

function showOrder(order: orders.Order): void {
  let row = orderRows.get(order.orderId);
  if (row === undefined) {
    row = document.createElement("tr");
    row.dataset.orderId = order.orderId;
    orderRows.set(order.orderId, row);
    $("order-rows").prepend(row);
  }
  const version = Number(row.dataset.version ?? "0");
  if (order.version < version) return; // an older snapshot arriving late
  row.dataset.version = String(order.version);
  row.dataset.status = order.status;
  row.dataset.symbol = order.symbol;
  const time = order.updateTime ?? order.createTime;
  row.innerHTML = [
    `<td class="muted">${time ? new Date(time).toLocaleTimeString() : ""}</td>`,
    `<td class="muted">${order.orderId.slice(-8)}</td>`,
    `<td>${order.symbol}</td>`,
    `<td class="${order.side === "SIDE_BUY" ? "up" : "down"}">${order.side.replace("SIDE_", "")}</td>`,
    `<td>${order.type.replace("ORDER_TYPE_", "")}</td>`,
    `<td>${text(order.quantity)}</td>`,
    `<td>${text(order.filledQuantity)}</td>`,
    `<td>${text(order.averageFillPrice)}</td>`,
    `<td class="status status-${order.status}" data-testid="order-status">${order.status.replace("ORDER_STATUS_", "")}${order.reasonCode ? ` <span class="muted">${order.reasonCode}</span>` : ""}</td>`,
    `<td></td>`,
  ].join("");
  if (OPEN_STATUSES.has(order.status)) {
    const cancel = document.createElement("button");
    cancel.className = "small";
    cancel.textContent = "Cancel";
    cancel.dataset.testid = "cancel-order";
    cancel.addEventListener("click", async () => {
      cancel.disabled = true;
      try {
        await api.orders.cancelOrder({ orderId: order.orderId });
      } catch (error) {
        $("ticket-result").className = "error";
        $("ticket-result").textContent = errorText(error);
        cancel.disabled = false;
      }
    });
    row.cells[9]!.append(cancel);
  }
}

let orderStream: Subscription | undefined;
let refreshTimer: ReturnType<typeof setTimeout> | undefined;

function followOrders(): void {
  orderStream?.close();
  orderRows.clear();
  $("order-rows").textContent = "";
  orderStream = api.orders.watchOrderEvents(
    { portfolioId: portfolioInput.value },
    {
      onMessage(frame) {
        if (frame.event?.order === undefined) return;
        showOrder(frame.event.order);
        // Fills change the portfolio: re-read it once the burst of events settles.
        clearTimeout(refreshTimer);
        refreshTimer = setTimeout(() => void refreshPortfolio(), 250);
      },
      onStatus: (status) => statusPill("orders-status", "orders", status),
      onError: (error) => statusPill("orders-status", "orders", `error ${errorText(error)}`),
    },
  );
}

// ---- Portfolio ---------------------------------------------------------------------------------------------------

async function refreshPortfolio(): Promise<void> {
  const portfolioId = portfolioInput.value;
  try {
    const [{ summary }, { positions }] = await Promise.all([
      api.accounting.getPortfolioSummary({ portfolioId }),
      api.accounting.listPositions({ portfolioId }),
    ]);
    renderSummary(summary);
    renderPositions(positions, summary);
  } catch (error) {
    $("summary").innerHTML = `<div class="error">${errorText(error)}</div>`;
  }
}

function renderSummary(summary: accounting.PortfolioSummary | undefined): void {
  if (summary === undefined) return;
  const items: [string, string | undefined, boolean?][] = [
    ["Cash", summary.cashBalance],
    ["Available", summary.cashAvailable],
    ["Market value", summary.totalMarketValue],
    ["Total value", summary.totalValue],
    ["Cost basis", summary.totalCostBasis],
    ["Unrealized P&L", summary.totalUnrealizedPnl, true],
    ["Realized P&L", summary.totalRealizedPnl, true],
    ["Cash weight", summary.cashWeight],
  ];
  $("summary").innerHTML = items
    .map(([label, value, colour]) => `<div><dt>${label}</dt><dd class="${colour ? signed(value) : ""}" data-testid="summary-${label.toLowerCase().replace(/[^a-z]+/g, "-")}">${text(value, 2)}</dd></div>`)
    .join("");
}

function renderPositions(positions: accounting.Position[], summary: accounting.PortfolioSummary | undefined): void {
  const bySecurity = new Map((summary?.securities ?? []).map((s) => [s.securityId, s]));
  $("position-rows").innerHTML = positions
    .map((p) => {
      const valued = bySecurity.get(p.securityId);
      return `<tr data-symbol="${p.symbol}" data-testid="position-row"><td>${p.symbol}</td><td>${text(p.quantity)}</td><td>${text(p.averageCost, 4)}</td><td>${text(valued?.price)}</td><td>${text(valued?.marketValue, 2)}</td><td class="${signed(valued?.unrealizedPnl)}">${text(valued?.unrealizedPnl, 2)}</td><td class="${signed(p.realizedPnl)}">${text(p.realizedPnl, 2)}</td></tr>`;
    })
    .join("") || `<tr><td colspan="7" class="muted">No positions yet.</td></tr>`;
}

// ---- Start -------------------------------------------------------------------------------------------------------

function restart(): void {
  sessionStorage.setItem("tp.token", tokenInput.value.trim());
  localStorage.setItem("tp.portfolio", portfolioInput.value);
  followQuotes();
  followOrders();
  void refreshPortfolio();
  void loadBars();
}

renderQuoteRows();
setupTicket();
selectSymbol(selected);
tokenInput.addEventListener("change", restart);
portfolioInput.addEventListener("change", restart);
setInterval(() => void refreshPortfolio(), 5_000);
setInterval(() => void loadBars(), 30_000);
window.addEventListener("resize", drawChart);
restart();
