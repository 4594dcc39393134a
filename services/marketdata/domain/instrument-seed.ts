import { createHash } from "node:crypto";
import Decimal from "decimal.js";
import type { AssetClass, Instrument, InstrumentStatus, TradingSession } from "./instrument";

/**
 * Deterministic security id for a seeded symbol: the first 24 hex digits of
 * sha256("tradeplane:instrument:" + symbol). Every database built from the seed, and every test of
 * another service, gets the same id for the same symbol without asking market data.
 */
export function securityIdForSymbol(symbol: string): string {
  return createHash("sha256").update(`tradeplane:instrument:${symbol}`).digest("hex").slice(0, 24);
}

/** US cash equity session. Holidays are not modelled (see the service README). */
export const US_EQUITY_SESSION: TradingSession = Object.freeze({
  kind: "EXCHANGE_HOURS",
  timeZone: "America/New_York",
  openLocal: "09:30",
  closeLocal: "16:00",
  tradingDays: Object.freeze([1, 2, 3, 4, 5]),
});

/** Crypto trades around the clock, as in both reference systems. */
export const CRYPTO_SESSION: TradingSession = Object.freeze({ kind: "ALWAYS_OPEN" });

type SeedRow = readonly [symbol: string, name: string, exchange: string, referencePrice: string, status?: InstrumentStatus];
type CryptoRow = readonly [symbol: string, name: string, referencePrice: string, tickSize: string];

// The 20-symbol quote universe of Hub Investments (§1.9) with its base prices, plus the seeded
// market_data rows (DIS, VOO, VBR) and further large caps so every sector has a name.
const EQUITIES: readonly SeedRow[] = [
  ["AAPL", "Apple Inc.", "XNAS", "175.50"],
  ["MSFT", "Microsoft Corporation", "XNAS", "420.25"],
  ["GOOGL", "Alphabet Inc.", "XNAS", "140.80"],
  ["AMZN", "Amazon.com Inc.", "XNAS", "155.30"],
  ["TSLA", "Tesla Inc.", "XNAS", "248.75"],
  ["NVDA", "NVIDIA Corporation", "XNAS", "875.20"],
  ["META", "Meta Platforms Inc.", "XNAS", "485.60"],
  ["NFLX", "Netflix Inc.", "XNAS", "485.90"],
  ["JPM", "JPMorgan Chase & Co.", "XNYS", "185.40"],
  ["V", "Visa Inc.", "XNYS", "275.80"],
  ["DIS", "The Walt Disney Company", "XNYS", "110.45"],
  ["KO", "The Coca-Cola Company", "XNYS", "60.15"],
  ["PEP", "PepsiCo Inc.", "XNAS", "168.30"],
  ["WMT", "Walmart Inc.", "XNYS", "165.20"],
  ["JNJ", "Johnson & Johnson", "XNYS", "156.70"],
  ["PG", "The Procter & Gamble Company", "XNYS", "162.40"],
  ["XOM", "Exxon Mobil Corporation", "XNYS", "104.90"],
  ["CVX", "Chevron Corporation", "XNYS", "151.60"],
  ["BAC", "Bank of America Corporation", "XNYS", "34.85"],
  ["MA", "Mastercard Incorporated", "XNYS", "460.10"],
  ["HD", "The Home Depot Inc.", "XNYS", "362.75"],
  ["UNH", "UnitedHealth Group Incorporated", "XNYS", "525.35"],
  ["INTC", "Intel Corporation", "XNAS", "43.20"],
  ["AMD", "Advanced Micro Devices Inc.", "XNAS", "178.60"],
  ["CSCO", "Cisco Systems Inc.", "XNAS", "49.95"],
  ["ORCL", "Oracle Corporation", "XNYS", "118.40"],
  ["CRM", "Salesforce Inc.", "XNYS", "295.15"],
  ["ADBE", "Adobe Inc.", "XNAS", "575.80"],
  ["IBM", "International Business Machines Corporation", "XNYS", "185.25"],
  ["MCD", "McDonald's Corporation", "XNYS", "290.55"],
  ["NKE", "NIKE Inc.", "XNYS", "98.70"],
  ["BA", "The Boeing Company", "XNYS", "205.30"],
  ["GS", "The Goldman Sachs Group Inc.", "XNYS", "385.90"],
  ["T", "AT&T Inc.", "XNYS", "17.05"],
  ["VZ", "Verizon Communications Inc.", "XNYS", "40.35"],
  // Not tradable, so orders and quote feeds have real cases to reject.
  ["SIVB", "SVB Financial Group", "XNAS", "106.04", "HALTED"],
  ["TWTR", "Twitter Inc.", "XNYS", "53.70", "DELISTED"],
];

const ETFS: readonly SeedRow[] = [
  ["SPY", "SPDR S&P 500 ETF Trust", "ARCX", "485.20"],
  ["QQQ", "Invesco QQQ Trust", "XNAS", "395.75"],
  ["VTI", "Vanguard Total Stock Market ETF", "ARCX", "245.30"],
  ["IWM", "iShares Russell 2000 ETF", "ARCX", "195.85"],
  ["EFA", "iShares MSCI EAFE ETF", "ARCX", "78.90"],
  ["GLD", "SPDR Gold Shares", "ARCX", "185.45"],
  ["TLT", "iShares 20+ Year Treasury Bond ETF", "XNAS", "92.30"],
  ["VNQ", "Vanguard Real Estate ETF", "ARCX", "85.75"],
  ["XLF", "Financial Select Sector SPDR Fund", "ARCX", "38.20"],
  ["XLK", "Technology Select Sector SPDR Fund", "ARCX", "195.60"],
  ["VOO", "Vanguard S&P 500 ETF", "ARCX", "446.10"],
  ["VBR", "Vanguard Small-Cap Value ETF", "ARCX", "175.40"],
  ["AGG", "iShares Core U.S. Aggregate Bond ETF", "ARCX", "97.85"],
  ["BND", "Vanguard Total Bond Market ETF", "XNAS", "72.60"],
  ["EEM", "iShares MSCI Emerging Markets ETF", "ARCX", "40.10"],
  ["DIA", "SPDR Dow Jones Industrial Average ETF Trust", "ARCX", "385.40"],
  ["XLE", "Energy Select Sector SPDR Fund", "ARCX", "89.25"],
];

// The assets of the Cloud Native Order Processor's inventory are CoinGecko coins keyed by their
// ticker (BTC, ETH, ...); their orders use quantities down to 0.001.
const CRYPTO: readonly CryptoRow[] = [
  ["BTC", "Bitcoin", "64250.00", "0.01"],
  ["ETH", "Ethereum", "3150.00", "0.01"],
  ["SOL", "Solana", "145.20", "0.01"],
  ["BNB", "BNB", "585.40", "0.01"],
  ["XRP", "XRP", "0.5210", "0.0001"],
  ["ADA", "Cardano", "0.4520", "0.0001"],
  ["DOGE", "Dogecoin", "0.15480", "0.00001"],
  ["DOT", "Polkadot", "6.950", "0.001"],
  ["LTC", "Litecoin", "82.35", "0.01"],
  ["LINK", "Chainlink", "14.250", "0.001"],
  ["AVAX", "Avalanche", "34.80", "0.01"],
  ["USDT", "Tether", "1.0000", "0.0001"],
  ["USDC", "USD Coin", "1.0000", "0.0001"],
];

function exchangeListed(assetClass: AssetClass, [symbol, name, exchange, price, status = "ACTIVE"]: SeedRow): Instrument {
  return Object.freeze({
    securityId: securityIdForSymbol(symbol),
    symbol,
    name,
    assetClass,
    currency: "USD",
    exchange,
    lotSize: new Decimal(1),
    minQuantity: new Decimal(1),
    tickSize: new Decimal("0.01"),
    isTradable: status === "ACTIVE",
    status,
    session: US_EQUITY_SESSION,
    referencePrice: new Decimal(price),
  });
}

function cryptoAsset([symbol, name, price, tickSize]: CryptoRow): Instrument {
  return Object.freeze({
    securityId: securityIdForSymbol(symbol),
    symbol,
    name,
    assetClass: "CRYPTO",
    currency: "USD",
    exchange: "CRYPTO",
    lotSize: new Decimal("0.00000001"),
    minQuantity: new Decimal("0.001"),
    tickSize: new Decimal(tickSize),
    isTradable: true,
    status: "ACTIVE",
    session: CRYPTO_SESSION,
    referencePrice: new Decimal(price),
  });
}

/** The instrument registry every fresh database starts with: US equities, ETFs and crypto assets. */
export function seedInstruments(): readonly Instrument[] {
  return [
    ...EQUITIES.map((row) => exchangeListed("EQUITY", row)),
    ...ETFS.map((row) => exchangeListed("ETF", row)),
    ...CRYPTO.map(cryptoAsset),
  ];
}
