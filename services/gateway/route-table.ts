// Every HTTP route of the bridge, built from the descriptors: each RPC at `POST /<package>.<Service>/<Method>` (the
// RPC style of Connect and grpc-web: the body is the whole request) and at each of its `google.api.http` bindings.
// Lookup is by verb, then by the most literal template that matches, so `/api/v1/quotes/batch` wins over
// `/api/v1/quotes/{symbol}` whatever the declaration order.
import { matchPathSegments, parsePathTemplate, splitPath, type PathTemplate } from "./path-template";
import type { BridgeMethod, HttpBinding } from "./service-descriptors";

export interface Route {
  method: BridgeMethod;
  verb: string;
  /** The annotation this route comes from; undefined for the RPC-style route. */
  binding?: HttpBinding;
  template: PathTemplate;
}

export type RouteLookup =
  | { kind: "match"; route: Route; pathParams: Map<string, string> }
  /** The path exists for other verbs only (405 with these in `Allow`). */
  | { kind: "wrong_verb"; allowed: string[] }
  | { kind: "none" };

export interface RouteTable {
  routes: readonly Route[];
  lookup(verb: string, pathname: string): RouteLookup;
}

export function createRouteTable(methods: readonly BridgeMethod[]): RouteTable {
  const routes: Route[] = [];
  const rpcStyle = new Map<string, Route>();
  for (const method of methods) {
    const route: Route = { method, verb: "POST", template: parsePathTemplate(method.grpcPath) };
    routes.push(route);
    rpcStyle.set(method.grpcPath, route);
    for (const binding of method.bindings) {
      routes.push({ method, verb: binding.verb, binding, template: parsePathTemplate(binding.template) });
    }
  }
  const annotated = routes
    .filter((r) => r.binding !== undefined)
    .sort((a, b) => b.template.specificity - a.template.specificity);
  // Candidates by segment count: a plain template matches only paths of its own length, so a request is tried
  // against a handful of templates instead of all of them. Templates with `**` or a `:verb` are always tried.
  const byLength = new Map<number, Route[]>();
  const always: Route[] = [];
  for (const route of annotated) {
    const { segments, verb } = route.template;
    if (verb !== undefined || segments.some((segment) => segment.kind === "rest")) always.push(route);
    else {
      if (!byLength.has(segments.length)) byLength.set(segments.length, []);
      byLength.get(segments.length)!.push(route);
    }
  }
  const merged = new Map<number, Route[]>();
  const candidatesOf = (length: number): Route[] => {
    let list = merged.get(length);
    if (list === undefined) {
      list = [...(byLength.get(length) ?? []), ...always].sort((a, b) => b.template.specificity - a.template.specificity);
      if (byLength.has(length)) merged.set(length, list);
    }
    return list;
  };

  return {
    routes,
    lookup(verb, pathname) {
      const direct = rpcStyle.get(pathname);
      if (direct !== undefined) {
        return verb === "POST" ? { kind: "match", route: direct, pathParams: new Map() } : { kind: "wrong_verb", allowed: ["POST"] };
      }
      const allowed = new Set<string>();
      const parts = splitPath(pathname);
      for (const route of candidatesOf(parts.length)) {
        const params = matchPathSegments(route.template, parts);
        if (params === undefined) continue;
        if (route.verb === verb || (verb === "HEAD" && route.verb === "GET")) return { kind: "match", route, pathParams: params };
        allowed.add(route.verb);
      }
      return allowed.size > 0 ? { kind: "wrong_verb", allowed: [...allowed] } : { kind: "none" };
    },
  };
}
