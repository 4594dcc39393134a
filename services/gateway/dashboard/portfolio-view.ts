// The portfolio view: the summary (cash, values, P&L) and the positions table, re-read from accounting.
import type { accounting } from "../../../clients/browser";
import { $, api, errorText, portfolioInput, signed, text } from "./page";

export async function refreshPortfolio(): Promise<void> {
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
