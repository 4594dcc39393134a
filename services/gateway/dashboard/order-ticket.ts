// The order ticket and the deposit form: submit an order or a cash deposit for the portfolio and show the result.
import type { orders } from "../../../clients/browser";
import { showOrder } from "./blotter";
import { $, api, errorText, portfolioInput, text } from "./page";
import { refreshPortfolio } from "./portfolio-view";
import { quoteRows } from "./quote-board";

export function setupTicket(): void {
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
