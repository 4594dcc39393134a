import { expect } from "chai";
import { register as registerGateway } from "../../../services/gateway/main";
import { startSystem, type TestSystem } from "../../support/system";
import { fakeServices } from "./fake-services";

interface ErrorCase {
  name: string;
  request: { method?: string; path: string; body?: string; headers?: Record<string, string>; anonymous?: boolean };
  http: number;
  status: string;
  /** ErrorInfo reason, when the case has one. */
  reason?: string;
  domain?: string;
  check?: (body: ErrorBody, response: Response) => void;
}

interface ErrorBody {
  error: { code: number; status: string; message: string; details: Array<Record<string, unknown>> };
}

const quote = (symbol: string) => ({ path: `/api/v1/quotes/${symbol}` });

const CASES: ErrorCase[] = [
  {
    name: "INVALID_ARGUMENT → 400 with BadRequest field violations",
    request: quote("BAD"),
    http: 400,
    status: "INVALID_ARGUMENT",
    reason: "INVALID_SYMBOL",
    domain: "tradeplane.marketdata",
    check: (body) => {
      const badRequest = body.error.details.find((d) => d["@type"] === "type.googleapis.com/google.rpc.BadRequest");
      expect(badRequest?.fieldViolations).to.deep.equal([{ field: "symbol", description: "must be 1-12 letters" }]);
    },
  },
  {
    name: "NOT_FOUND → 404 with ErrorInfo metadata",
    request: quote("NOPE"),
    http: 404,
    status: "NOT_FOUND",
    reason: "UNKNOWN_SYMBOL",
    check: (body) => expect(body.error.details[0]!.metadata).to.deep.equal({ symbol: "NOPE" }),
  },
  { name: "ALREADY_EXISTS → 409", request: quote("DUP"), http: 409, status: "ALREADY_EXISTS", reason: "IDEMPOTENCY_KEY_REUSED" },
  {
    name: "FAILED_PRECONDITION → 400 (not 412) with PreconditionFailure",
    request: quote("HALT"),
    http: 400,
    status: "FAILED_PRECONDITION",
    reason: "INSTRUMENT_HALTED",
    check: (body) => expect(body.error.details.map((d) => d["@type"])).to.include("type.googleapis.com/google.rpc.PreconditionFailure"),
  },
  { name: "ABORTED → 409", request: quote("RACE"), http: 409, status: "ABORTED", reason: "CONCURRENT_UPDATE" },
  {
    name: "RESOURCE_EXHAUSTED → 429 with Retry-After from RetryInfo",
    request: quote("BUSY"),
    http: 429,
    status: "RESOURCE_EXHAUSTED",
    reason: "TOO_MANY_STREAMS",
    check: (body, response) => {
      expect(response.headers.get("retry-after")).to.equal("2");
      const retry = body.error.details.find((d) => d["@type"] === "type.googleapis.com/google.rpc.RetryInfo");
      expect(retry?.retryDelay).to.equal("1.5s");
    },
  },
  { name: "UNAVAILABLE → 503", request: quote("DOWN"), http: 503, status: "UNAVAILABLE", reason: "DEPENDENCY_UNAVAILABLE" },
  { name: "PERMISSION_DENIED → 403", request: quote("DENY"), http: 403, status: "PERMISSION_DENIED", reason: "PORTFOLIO_FORBIDDEN" },
  { name: "UNAUTHENTICATED → 401", request: { ...quote("AAPL"), anonymous: true }, http: 401, status: "UNAUTHENTICATED" },
  {
    name: "DEADLINE_EXCEEDED → 504 when X-Timeout-Ms passes",
    request: { ...quote("SLOW"), headers: { "x-timeout-ms": "100" } },
    http: 504,
    status: "DEADLINE_EXCEEDED",
  },
  { name: "UNIMPLEMENTED → 501", request: quote("UNIMPL"), http: 501, status: "UNIMPLEMENTED" },
  {
    name: "UNIMPLEMENTED → 501 for a service this process does not run",
    request: { path: "/api/v1/portfolios/P1/summary" },
    http: 501,
    status: "UNIMPLEMENTED",
  },
  {
    name: "INTERNAL → 500 without the stack trace",
    request: quote("BUG"),
    http: 500,
    status: "INTERNAL",
    check: (body) => expect(JSON.stringify(body)).not.to.include("secret stack trace"),
  },
  {
    name: "malformed JSON → 400 MALFORMED_JSON",
    request: { method: "POST", path: "/api/v1/quotes/batch", body: '{"symbols": [' },
    http: 400,
    status: "INVALID_ARGUMENT",
    reason: "MALFORMED_JSON",
    domain: "tradeplane.gateway",
  },
  {
    name: "unknown JSON field in strict mode → 400 UNKNOWN_FIELD naming it",
    request: { method: "POST", path: "/api/v1/quotes/batch", body: '{"symbols": ["A"], "symbolz": 1}' },
    http: 400,
    status: "INVALID_ARGUMENT",
    reason: "UNKNOWN_FIELD",
    check: (body) => expect(body.error.details[1]!.fieldViolations).to.deep.equal([{ field: "symbolz", description: 'no field "symbolz" in tradeplane.marketdata.v1.BatchGetQuotesRequest' }]),
  },
  {
    name: "a JSON number for a decimal string field → 400 INVALID_FIELD_VALUE",
    request: { method: "POST", path: "/tradeplane.marketdata.v1.MarketDataService/GetQuote", body: '{"symbol": 101.25}' },
    http: 400,
    status: "INVALID_ARGUMENT",
    reason: "INVALID_FIELD_VALUE",
  },
  {
    name: "unknown query parameter → 400 INVALID_PARAMETER",
    request: { path: "/api/v1/instruments?colour=red" },
    http: 400,
    status: "INVALID_ARGUMENT",
    reason: "INVALID_PARAMETER",
  },
  {
    name: "unknown enum name in the query → 400",
    request: { path: "/api/v1/quotes/AAPL/bars?interval=FORTNIGHTLY" },
    http: 400,
    status: "INVALID_ARGUMENT",
    reason: "INVALID_FIELD_VALUE",
  },
  {
    name: "oversized body → 413",
    request: { method: "POST", path: "/api/v1/quotes/batch", body: JSON.stringify({ symbols: Array.from({ length: 500 }, (_, i) => `SYM${i}`) }) },
    http: 413,
    status: "INVALID_ARGUMENT",
    reason: "BODY_TOO_LARGE",
  },
  { name: "unknown route → 404 ROUTE_NOT_FOUND", request: { path: "/api/v2/nothing" }, http: 404, status: "NOT_FOUND", reason: "ROUTE_NOT_FOUND" },
  {
    name: "known path, wrong method → 405 with Allow",
    request: { method: "DELETE", path: "/api/v1/quotes/AAPL" },
    http: 405,
    status: "UNIMPLEMENTED",
    reason: "METHOD_NOT_ALLOWED",
    check: (_body, response) => expect(response.headers.get("allow")).to.equal("GET"),
  },
  {
    name: "invalid timeout header → 400 INVALID_TIMEOUT",
    request: { ...quote("AAPL"), headers: { "x-timeout-ms": "soon" } },
    http: 400,
    status: "INVALID_ARGUMENT",
    reason: "INVALID_TIMEOUT",
  },
];

describe("HTTP bridge: error mapping", () => {
  let system: TestSystem;
  let token: string;

  before(async () => {
    system = await startSystem([fakeServices(), registerGateway], { env: { GATEWAY_MAX_BODY_BYTES: "2048" } });
    token = await system.token({ sub: "trader-1", roles: ["trader"], portfolios: ["*"] });
  });
  after(async () => {
    await system?.stop();
  });

  for (const testCase of CASES) {
    it(`maps ${testCase.name}`, async () => {
      const { request } = testCase;
      const headers: Record<string, string> = { ...(request.anonymous ? {} : { authorization: `Bearer ${token}` }), ...request.headers };
      if (request.body !== undefined) headers["content-type"] = "application/json";
      const response = await fetch(system.httpUrl + request.path, { method: request.method ?? "GET", headers, body: request.body });
      const body = (await response.json()) as ErrorBody;
      expect(response.status, JSON.stringify(body)).to.equal(testCase.http);
      expect(response.headers.get("content-type")).to.match(/^application\/json/);
      expect(body.error.code).to.equal(testCase.http);
      expect(body.error.status).to.equal(testCase.status);
      expect(body.error.message).to.be.a("string").and.not.equal("");
      expect(body.error.details).to.be.an("array");
      if (testCase.reason !== undefined) {
        const info = body.error.details.find((d) => d["@type"] === "type.googleapis.com/google.rpc.ErrorInfo");
        expect(info?.reason).to.equal(testCase.reason);
        if (testCase.domain !== undefined) expect(info?.domain).to.equal(testCase.domain);
      }
      testCase.check?.(body, response);
    });
  }
});
