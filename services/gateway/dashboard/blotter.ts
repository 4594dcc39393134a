// The blotter: the portfolio's orders, newest first, kept current by the order event stream, with a cancel button
// on each open order. Order events also schedule a re-read of the portfolio.
import type { orders, Subscription } from "../../../clients/browser";
import { $, api, errorText, portfolioInput, statusPill, text } from "./page";
import { refreshPortfolio } from "./portfolio-view";

const OPEN_STATUSES = new Set(["ORDER_STATUS_PENDING_NEW", "ORDER_STATUS_NEW", "ORDER_STATUS_PARTIALLY_FILLED"]);

const orderRows = new Map<string, HTMLTableRowElement>();

export function showOrder(order: orders.Order): void {
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

export function followOrders(): void {
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
