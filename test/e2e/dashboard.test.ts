// The dashboard in a real browser against the real services in one process: the page loads, quotes tick, a
// deposit and a market order placed through the page show up as a FILLED order in the blotter and as a position in
// the portfolio. Headless Chromium (Debian's /usr/bin/chromium) is driven by playwright-core; the screenshot is kept
// under test/artifacts/ for a human to look at.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { expect } from "chai";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { register as registerAccounting } from "../../services/accounting/main";
import { register as registerGateway } from "../../services/gateway/main";
import { register as registerMarketData } from "../../services/marketdata/main";
import { register as registerOrders } from "../../services/orders/main";
import { startSystem, type TestSystem } from "../support/system";

const CHROMIUM = "/usr/bin/chromium";
const ARTIFACTS = path.join(__dirname, "..", "artifacts");
const CHROMIUM_FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

describe("dashboard in headless Chromium", function () {
  this.timeout(90_000);
  let system: TestSystem | undefined;
  let context: BrowserContext | undefined;
  let userDataDir: string | undefined;
  let page: Page;
  const portfolioId = `e2e${Date.now().toString(36)}`.padEnd(24, "0").slice(0, 24);

  before(async function () {
    if (!existsSync(CHROMIUM)) {
      if (process.env.REQUIRE_REAL_SERVICES === "1") throw new Error(`${CHROMIUM} is missing and REQUIRE_REAL_SERVICES=1: install Debian's chromium package`);
      console.log(`    skipped: ${CHROMIUM} is not installed (apt-get install chromium), so the dashboard cannot be driven`);
      this.skip();
    }
    system = await startSystem([registerMarketData, registerAccounting, registerOrders, registerGateway], {
      env: { MARKETDATA_SIMULATOR_RATE: "4" },
    });
    const token = await system.token({ sub: "e2e-trader", roles: ["trader"], portfolios: [portfolioId] });
    userDataDir = mkdtempSync(path.join(os.tmpdir(), "tradeplane-chromium-"));
    // A persistent context is how playwright takes a fresh --user-data-dir; headless adds --headless.
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_FLAGS,
      viewport: { width: 1360, height: 1000 },
    });
    page = context.pages()[0] ?? (await context.newPage());
    await page.goto(`${system.httpUrl}/#token=${token}&portfolio=${portfolioId}`);
  });

  afterEach(async function () {
    // Keep what the page showed when a step failed.
    if (this.currentTest?.state === "failed" && context !== undefined) {
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: path.join(ARTIFACTS, "dashboard-failure.png"), fullPage: true }).catch(() => undefined);
      const texts = await page.$$eval("[data-testid$='-result'], [data-testid$='-status']", (nodes) => nodes.map((n) => `${n.getAttribute("data-testid")}: ${n.textContent}`)).catch(() => []);
      console.log(`    page state: ${texts.join(" | ")}`);
    }
  });

  after(async () => {
    await context?.close();
    if (userDataDir !== undefined) rmSync(userDataDir, { recursive: true, force: true });
    await system?.stop();
  });

  it("loads the page and its quote and order streams connect", async () => {
    await page.waitForSelector('[data-testid="quote-board"] tr[data-symbol="BTC"]');
    await page.waitForFunction(() => document.querySelector('[data-testid="quotes-status"]')?.textContent === "quotes: open");
    await page.waitForFunction(() => document.querySelector('[data-testid="orders-status"]')?.textContent === "orders: open");
    // The token came in the URL fragment and was removed from the address bar.
    expect(page.url()).not.to.include("token=");
  });

  it("shows quotes ticking on the board", async () => {
    const seqOf = () => page.$eval('tr[data-symbol="BTC"]', (row) => (row as HTMLElement).dataset.seq ?? "");
    await page.waitForFunction(() => (document.querySelector('tr[data-symbol="BTC"]') as HTMLElement | null)?.dataset.seq !== undefined);
    const first = BigInt(await seqOf());
    await page.waitForFunction(
      (before) => BigInt((document.querySelector('tr[data-symbol="BTC"]') as HTMLElement).dataset.seq ?? "0") > BigInt(before),
      first.toString(),
      { timeout: 10_000 },
    );
    const bid = await page.$eval('tr[data-symbol="BTC"] td.bid', (cell) => cell.textContent ?? "");
    expect(bid).to.match(/^\d+\.\d+$/);
  });

  it("deposits cash and places a market order that fills and shows up as a position", async () => {
    await page.click('[data-testid="deposit"]');
    await page.waitForFunction(() => /^deposited 10000\.00/.test(document.querySelector('[data-testid="deposit-result"]')?.textContent ?? ""), undefined, { timeout: 15_000 });
    await page.waitForFunction(() => document.querySelector('[data-testid="summary-cash"]')?.textContent === "10000.00", undefined, { timeout: 15_000 });

    await page.selectOption('[data-testid="ticket-symbol"]', "ETH");
    await page.fill('[data-testid="ticket-quantity"]', "0.5");
    await page.click('[data-testid="submit-order"]');
    await page.waitForFunction(() => /^order /.test(document.querySelector('[data-testid="ticket-result"]')?.textContent ?? ""), undefined, { timeout: 15_000 }).catch(async (error) => {
      throw new Error(`the order was not accepted: ${await page.textContent('[data-testid="ticket-result"]')} (${error})`);
    });
    await page.waitForSelector('[data-testid="blotter"] tr[data-symbol="ETH"][data-status="ORDER_STATUS_FILLED"]', { timeout: 20_000 });
    await page.waitForSelector('[data-testid="positions"] tr[data-symbol="ETH"]', { timeout: 20_000 });
    const quantity = await page.$eval('[data-testid="positions"] tr[data-symbol="ETH"] td:nth-child(2)', (cell) => cell.textContent);
    expect(quantity).to.equal("0.5");
    // Let a few more ticks and the chart draw, then keep the picture.
    await page.waitForTimeout(1_500);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, "dashboard.png"), fullPage: true });
  });
});
