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
  ["AAPL", "Apple Inc.", "NASDAQ", "175.50"],
  ["MSFT", "Microsoft Corporation", "NASDAQ", "420.25"],
  ["GOOGL", "Alphabet Inc.", "NASDAQ", "140.80"],
  ["AMZN", "Amazon.com Inc.", "NASDAQ", "155.30"],
  ["TSLA", "Tesla Inc.", "NASDAQ", "248.75"],
  ["NVDA", "NVIDIA Corporation", "NASDAQ", "875.20"],
  ["META", "Meta Platforms Inc.", "NASDAQ", "485.60"],
  ["NFLX", "Netflix Inc.", "NASDAQ", "485.90"],
  ["JPM", "JPMorgan Chase & Co.", "NYSE", "185.40"],
  ["V", "Visa Inc.", "NYSE", "275.80"],
  ["DIS", "The Walt Disney Company", "NYSE", "110.45"],
  ["KO", "The Coca-Cola Company", "NYSE", "60.15"],
  ["PEP", "PepsiCo Inc.", "NASDAQ", "168.30"],
  ["WMT", "Walmart Inc.", "NYSE", "165.20"],
  ["JNJ", "Johnson & Johnson", "NYSE", "156.70"],
  ["PG", "The Procter & Gamble Company", "NYSE", "162.40"],
  ["XOM", "Exxon Mobil Corporation", "NYSE", "104.90"],
  ["CVX", "Chevron Corporation", "NYSE", "151.60"],
  ["BAC", "Bank of America Corporation", "NYSE", "34.85"],
  ["MA", "Mastercard Incorporated", "NYSE", "460.10"],
  ["HD", "The Home Depot Inc.", "NYSE", "362.75"],
  ["UNH", "UnitedHealth Group Incorporated", "NYSE", "525.35"],
  ["INTC", "Intel Corporation", "NASDAQ", "43.20"],
  ["AMD", "Advanced Micro Devices Inc.", "NASDAQ", "178.60"],
  ["CSCO", "Cisco Systems Inc.", "NASDAQ", "49.95"],
  ["ORCL", "Oracle Corporation", "NYSE", "118.40"],
  ["CRM", "Salesforce Inc.", "NYSE", "295.15"],
  ["ADBE", "Adobe Inc.", "NASDAQ", "575.80"],
  ["IBM", "International Business Machines Corporation", "NYSE", "185.25"],
  ["MCD", "McDonald's Corporation", "NYSE", "290.55"],
  ["NKE", "NIKE Inc.", "NYSE", "98.70"],
  ["BA", "The Boeing Company", "NYSE", "205.30"],
  ["GS", "The Goldman Sachs Group Inc.", "NYSE", "385.90"],
  ["T", "AT&T Inc.", "NYSE", "17.05"],
  ["VZ", "Verizon Communications Inc.", "NYSE", "40.35"],
  // Not tradable, so orders and quote feeds have real cases to reject.
  ["SIVB", "SVB Financial Group", "NASDAQ", "106.04", "HALTED"],
  ["TWTR", "Twitter Inc.", "NYSE", "53.70", "DELISTED"],
];

const ETFS: readonly SeedRow[] = [
  ["SPY", "SPDR S&P 500 ETF Trust", "NYSE ARCA", "485.20"],
  ["QQQ", "Invesco QQQ Trust", "NASDAQ", "395.75"],
  ["VTI", "Vanguard Total Stock Market ETF", "NYSE ARCA", "245.30"],
  ["IWM", "iShares Russell 2000 ETF", "NYSE ARCA", "195.85"],
  ["EFA", "iShares MSCI EAFE ETF", "NYSE ARCA", "78.90"],
  ["GLD", "SPDR Gold Shares", "NYSE ARCA", "185.45"],
  ["TLT", "iShares 20+ Year Treasury Bond ETF", "NASDAQ", "92.30"],
  ["VNQ", "Vanguard Real Estate ETF", "NYSE ARCA", "85.75"],
  ["XLF", "Financial Select Sector SPDR Fund", "NYSE ARCA", "38.20"],
  ["XLK", "Technology Select Sector SPDR Fund", "NYSE ARCA", "195.60"],
  ["VOO", "Vanguard S&P 500 ETF", "NYSE ARCA", "446.10"],
  ["VBR", "Vanguard Small-Cap Value ETF", "NYSE ARCA", "175.40"],
  ["AGG", "iShares Core U.S. Aggregate Bond ETF", "NYSE ARCA", "97.85"],
  ["BND", "Vanguard Total Bond Market ETF", "NASDAQ", "72.60"],
  ["EEM", "iShares MSCI Emerging Markets ETF", "NYSE ARCA", "40.10"],
  ["DIA", "SPDR Dow Jones Industrial Average ETF Trust", "NYSE ARCA", "385.40"],
  ["XLE", "Energy Select Sector SPDR Fund", "NYSE ARCA", "89.25"],
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
