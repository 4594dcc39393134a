import { expect } from "chai";
import { AccountingServiceDefinition } from "../../../generated/tradeplane/accounting/v1/accounting_service";
import { AllocationServiceDefinition } from "../../../generated/tradeplane/accounting/v1/allocation_service";
import { MarketDataServiceDefinition } from "../../../generated/tradeplane/marketdata/v1/market_data_service";
import { ModelServiceDefinition } from "../../../generated/tradeplane/optimization/v1/model_service";
import { RebalanceServiceDefinition } from "../../../generated/tradeplane/optimization/v1/rebalance_service";
import { OrderServiceDefinition } from "../../../generated/tradeplane/orders/v1/order_service";
import { register as registerGateway } from "../../../services/gateway/main";
import { startSystem, type TestSystem } from "../../support/system";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Every RPC, listed from the generated service definitions (an independent source from the descriptor set). */
const ALL_RPCS = [
  MarketDataServiceDefinition,
  OrderServiceDefinition,
  AccountingServiceDefinition,
  AllocationServiceDefinition,
  ModelServiceDefinition,
  RebalanceServiceDefinition,
].flatMap((definition) =>
  Object.values(definition.methods).map((method) => ({
    path: `/${definition.fullName}/${method.name}`,
    serverStream: method.responseStream,
    clientStream: method.requestStream,
  })),
);

const HTTP_METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/**
 * The structural rules of OpenAPI 3.1 a generator can get wrong (no network here to fetch the official schema):
 * required top-level fields, paths starting with "/", unique operationIds, every path variable declared as a
 * required path parameter, responses on every operation, and every $ref resolving.
 */
function structuralProblems(doc: Json): string[] {
  const problems: string[] = [];
  if (typeof doc.openapi !== "string" || !/^3\.1\.\d+$/.test(doc.openapi)) problems.push(`openapi must be 3.1.x, got ${doc.openapi}`);
  if (typeof doc.info?.title !== "string" || typeof doc.info?.version !== "string") problems.push("info.title and info.version are required strings");
  if (doc.paths === undefined && doc.components === undefined && doc.webhooks === undefined) problems.push("one of paths, components, webhooks is required");
  const operationIds = new Set<string>();
  const tagNames = new Set((doc.tags ?? []).map((t: Json) => t.name));
  for (const [path, item] of Object.entries<Json>(doc.paths ?? {})) {
    if (!path.startsWith("/")) problems.push(`path ${path} must start with /`);
    const variables = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
    for (const [verb, operation] of Object.entries<Json>(item)) {
      if (!HTTP_METHODS.includes(verb)) {
        problems.push(`${path}: ${verb} is not an HTTP method`);
        continue;
      }
      const where = `${verb.toUpperCase()} ${path}`;
      if (typeof operation.operationId !== "string") problems.push(`${where}: operationId missing`);
      else if (operationIds.has(operation.operationId)) problems.push(`${where}: duplicate operationId ${operation.operationId}`);
      operationIds.add(operation.operationId);
      if (operation.responses === undefined || Object.keys(operation.responses).length === 0) problems.push(`${where}: no responses`);
      for (const [code, response] of Object.entries<Json>(operation.responses ?? {})) {
        if (code !== "default" && !/^[1-5](\d\d|XX)$/.test(code)) problems.push(`${where}: bad response code ${code}`);
        if (typeof response.description !== "string") problems.push(`${where}: response ${code} needs a description`);
      }
      const parameters: Json[] = operation.parameters ?? [];
      const seen = new Set<string>();
      for (const parameter of parameters) {
        if (!["query", "header", "path", "cookie"].includes(parameter.in)) problems.push(`${where}: parameter ${parameter.name} has bad "in"`);
        if (seen.has(`${parameter.in}:${parameter.name}`)) problems.push(`${where}: duplicate parameter ${parameter.name}`);
        seen.add(`${parameter.in}:${parameter.name}`);
        if (parameter.in === "path" && parameter.required !== true) problems.push(`${where}: path parameter ${parameter.name} must be required`);
        if (parameter.schema === undefined && parameter.content === undefined) problems.push(`${where}: parameter ${parameter.name} needs a schema`);
      }
      for (const variable of variables) {
        if (!parameters.some((p) => p.in === "path" && p.name === variable)) problems.push(`${where}: path variable {${variable}} is not declared`);
      }
      for (const parameter of parameters.filter((p) => p.in === "path")) {
        if (!variables.includes(parameter.name)) problems.push(`${where}: path parameter ${parameter.name} is not in the path`);
      }
      if (operation.requestBody !== undefined && typeof operation.requestBody.content !== "object") problems.push(`${where}: requestBody needs content`);
      for (const tag of operation.tags ?? []) if (!tagNames.has(tag)) problems.push(`${where}: tag ${tag} is not declared`);
    }
  }
  const refs = JSON.stringify(doc).matchAll(/"\$ref":"([^"]+)"/g);
  for (const [, ref] of refs) {
    const name = /^#\/components\/schemas\/(.+)$/.exec(ref!)?.[1];
    if (name === undefined || doc.components?.schemas?.[name] === undefined) problems.push(`$ref ${ref} does not resolve`);
  }
  for (const [name, schema] of Object.entries<Json>(doc.components?.schemas ?? {})) {
    if (!/^[a-zA-Z0-9.\-_]+$/.test(name)) problems.push(`schema name ${name} is not allowed`);
    for (const required of schema.required ?? []) {
      if (schema.properties?.[required] === undefined) problems.push(`schema ${name}: required ${required} is not a property`);
    }
  }
  return problems;
}

describe("HTTP bridge: OpenAPI 3.1 description and docs page", () => {
  let system: TestSystem;
  let doc: Json;

  before(async () => {
    system = await startSystem([registerGateway]);
    const response = await fetch(`${system.httpUrl}/openapi.json`);
    expect(response.status).to.equal(200);
    doc = (await response.json()) as Json;
  });
  after(async () => {
    await system?.stop();
  });

  it("validates structurally as an OpenAPI 3.1 document", () => {
    expect(structuralProblems(doc)).to.deep.equal([]);
  });

  it("lists every RPC at its RPC-style path, streams as text/event-stream and client streams as NDJSON bodies", () => {
    expect(ALL_RPCS.length).to.be.greaterThan(40);
    for (const rpc of ALL_RPCS) {
      const operation = doc.paths[rpc.path]?.post;
      expect(operation, rpc.path).to.not.equal(undefined);
      expect(operation["x-grpc-method"]).to.equal(rpc.path);
      const ok = operation.responses["200"].content;
      if (rpc.serverStream) expect(Object.keys(ok), rpc.path).to.include.members(["text/event-stream", "application/x-ndjson"]);
      else expect(Object.keys(ok), rpc.path).to.deep.equal(["application/json"]);
      if (rpc.clientStream) expect(Object.keys(operation.requestBody.content)).to.deep.equal(["application/x-ndjson"]);
    }
  });

  it("lists the google.api.http routes with their path and query parameters", () => {
    const getQuote = doc.paths["/api/v1/quotes/{symbol}"].get;
    expect(getQuote["x-grpc-method"]).to.equal("/tradeplane.marketdata.v1.MarketDataService/GetQuote");
    expect(getQuote.parameters.find((p: Json) => p.in === "path")).to.include({ name: "symbol", required: true });
    const bars = doc.paths["/api/v1/quotes/{symbol}/bars"].get.parameters.map((p: Json) => `${p.in}:${p.name}`);
    expect(bars).to.include.members(["path:symbol", "query:interval", "query:startTime", "query:pageSize"]);
    const submit = doc.paths["/api/v1/orders"].post;
    expect(submit.requestBody.content["application/json"].schema.$ref).to.equal("#/components/schemas/tradeplane.orders.v1.SubmitOrderRequest");
    const watch = doc.paths["/api/v1/portfolios/{portfolio_id}/order-events"].get;
    expect(watch.parameters.map((p: Json) => p.name)).to.include("Last-Event-ID");
    expect(watch["x-resume-field"]).to.equal("since_seq");
  });

  it("describes decimals and int64 as strings, enums by name, timestamps as date-time", () => {
    const quote = doc.components.schemas["tradeplane.marketdata.v1.Quote"];
    expect(quote.properties.bid).to.include({ type: "string" });
    expect(quote.properties.seq).to.include({ type: "string", format: "int64" });
    expect(doc.components.schemas["google.protobuf.Timestamp"]).to.include({ type: "string", format: "date-time" });
    expect(doc.components.schemas["tradeplane.common.v1.Side"].enum).to.include("SIDE_BUY");
    expect(quote.description).to.be.a("string").and.not.equal("");
  });

  it("serves a docs page that renders the description", async () => {
    const response = await fetch(`${system.httpUrl}/docs`);
    expect(response.status).to.equal(200);
    expect(response.headers.get("content-type")).to.match(/^text\/html/);
    expect(await response.text()).to.include("/openapi.json");
  });
});
