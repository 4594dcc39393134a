// The quote board: a row per symbol with bid, ask, last and the change since the page opened, fed by the quote
// stream. Clicking a row selects the symbol for the chart and the order ticket.
import Decimal from "decimal.js";
import type { marketdata, Subscription } from "../../../clients/browser";
import { $, api, errorText, signed, statusPill } from "./page";
import { chartSymbol, drawChart, loadBars, pushLivePoint, selected } from "./price-chart";

const SYMBOLS = ["BTC", "ETH", "SOL", "AAPL", "MSFT", "GOOGL", "TSLA", "VOO"];

interface QuoteRow {
  row: HTMLTableRowElement;
  first?: string;
  last?: string;
}

export const quoteRows = new Map<string, QuoteRow>();

export function renderQuoteRows(): void {
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

export function followQuotes(): void {
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

export function selectSymbol(symbol: string): void {
  chartSymbol(symbol);
  for (const [name, entry] of quoteRows) entry.row.classList.toggle("selected", name === symbol);
  $<HTMLSelectElement>("ticket-symbol").value = symbol;
  drawChart();
  void loadBars();
}
