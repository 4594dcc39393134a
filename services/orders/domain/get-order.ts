import { mayActOn, orderNotFound } from "./authorize-portfolio";
import type { Order } from "./order";
import type { Caller, OrderStore } from "./ports";

/** GetOrder: the order, if it exists and belongs to a portfolio of the caller; otherwise ORDER_NOT_FOUND. */
export async function getOrder(deps: { store: OrderStore }, caller: Caller, orderId: string): Promise<Order> {
  const order = await deps.store.find(orderId);
  if (order === null || !mayActOn(caller, order.portfolioId)) throw orderNotFound(orderId);
  return order;
}
