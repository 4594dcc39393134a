import { expect } from "chai";
import { matchPathTemplate, parsePathTemplate } from "../../../services/gateway/path-template";
import { createRouteTable } from "../../../services/gateway/route-table";
import { loadServiceDescriptors } from "../../../services/gateway/service-descriptors";

describe("google.api.http path templates", () => {
  const match = (template: string, path: string) => {
    const values = matchPathTemplate(parsePathTemplate(template), path);
    return values === undefined ? undefined : Object.fromEntries(values);
  };

  it("binds a single-segment variable, percent-decoded", () => {
    expect(match("/api/v1/quotes/{symbol}", "/api/v1/quotes/BRK%2EB")).to.deep.equal({ symbol: "BRK.B" });
    expect(match("/api/v1/quotes/{symbol}", "/api/v1/quotes/A/B")).to.equal(undefined);
    expect(match("/api/v1/quotes/{symbol}", "/api/v1/quotes/")).to.equal(undefined);
  });

  it("binds multi-segment variables, ** tails, dotted field paths and verbs", () => {
    expect(match("/v1/{name=shelves/*/books/*}", "/v1/shelves/1/books/2")).to.deep.equal({ name: "shelves/1/books/2" });
    expect(match("/v1/{name=shelves/*/books/*}", "/v1/shelves/1/films/2")).to.equal(undefined);
    expect(match("/v1/files/{path=**}", "/v1/files/a/b/c.txt")).to.deep.equal({ path: "a/b/c.txt" });
    expect(match("/v1/{order.id}:cancel", "/v1/42:cancel")).to.deep.equal({ "order.id": "42" });
    expect(match("/v1/{order.id}:cancel", "/v1/42")).to.equal(undefined);
  });

  it("prefers the more literal route whatever the declaration order", () => {
    const table = createRouteTable(loadServiceDescriptors().methods);
    const batch = table.lookup("POST", "/api/v1/quotes/batch");
    expect(batch.kind === "match" && batch.route.method.descriptor.name).to.equal("BatchGetQuotes");
    const remove = table.lookup("POST", "/api/v1/model/m1/portfolio/remove");
    expect(remove.kind === "match" && remove.route.method.descriptor.name).to.equal("RemoveModelPortfolios");
    const wrong = table.lookup("PATCH", "/api/v1/orders/o1/cancel");
    expect(wrong).to.deep.equal({ kind: "wrong_verb", allowed: ["PUT", "POST"] });
  });

  it("finds the resume cursor of each server stream from the contracts", () => {
    const methods = loadServiceDescriptors().methods.filter((m) => m.kind === "server_streaming");
    const cursors = Object.fromEntries(methods.map((m) => [m.descriptor.name, m.cursor?.requestField.name]));
    expect(cursors).to.deep.equal({ StreamQuotes: "resume_token", WatchOrderEvents: "since_seq", RebalanceModel: undefined });
    const watch = methods.find((m) => m.descriptor.name === "WatchOrderEvents")!;
    expect(watch.cursor!.cursorOf({ event: { seq: "12" } })).to.equal("12");
    expect(watch.cursor!.cursorOf({ heartbeat: { latestSeq: "12" } })).to.equal(undefined);
  });
});
