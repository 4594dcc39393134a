// What every part of the dashboard uses: the element lookup, the connection settings (token and portfolio inputs)
// with the API client they drive, and the display of amounts, stream statuses and errors.
import Decimal from "decimal.js";
import { createTradeplaneClient, TradeplaneError } from "../../../clients/browser";

export const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

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
export const tokenInput = $<HTMLInputElement>("token");
export const portfolioInput = $<HTMLInputElement>("portfolio");
tokenInput.value = settings.token;
portfolioInput.value = settings.portfolio;

export const api = createTradeplaneClient({ token: () => tokenInput.value.trim() || undefined, timeoutMs: 10_000 });

export function text(value: string | undefined, places?: number): string {
  if (value === undefined || value === "") return "—";
  try {
    return places === undefined ? value : new Decimal(value).toFixed(places, Decimal.ROUND_HALF_EVEN);
  } catch {
    return value;
  }
}

export function signed(value: string | undefined): string {
  if (value === undefined || value === "") return "";
  try {
    const d = new Decimal(value);
    return d.isZero() ? "" : d.isPositive() ? "up" : "down";
  } catch {
    return "";
  }
}

export function statusPill(id: string, label: string, status: string): void {
  const pill = $(id);
  pill.textContent = `${label}: ${status}`;
  pill.className = `pill ${status}`;
}

export function errorText(error: unknown): string {
  if (error instanceof TradeplaneError) return `${error.status}${error.reason ? ` (${error.reason})` : ""}: ${error.message}`;
  return String(error);
}
