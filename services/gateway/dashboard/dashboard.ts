// The tradeplane dashboard: plain TypeScript on the browser client, bundled by the gateway at first request.
// Quotes and order events arrive as resumable SSE streams; the portfolio is re-read whenever an order event
// arrives (and every few seconds, as prices move). Amounts are shown as the decimal strings the API sends;
// differences use decimal.js. Only chart pixel positions are plain numbers.
// This file is the entry point: it wires the parts (quote board, price chart, order ticket, blotter, portfolio
// view) together and (re)starts the streams when the token or portfolio changes.
import { followOrders } from "./blotter";
import { setupTicket } from "./order-ticket";
import { portfolioInput, tokenInput } from "./page";
import { refreshPortfolio } from "./portfolio-view";
import { drawChart, loadBars, selected } from "./price-chart";
import { followQuotes, renderQuoteRows, selectSymbol } from "./quote-board";

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
