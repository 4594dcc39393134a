// The gateway's composition root: the HTTP/JSON bridge for every RPC, `/openapi.json` and `/docs`, and the
// dashboard at `/`, all on the runtime's HTTP server. It serves no gRPC of its own: it calls the services in this
// process through the gRPC server's in-process pipeline (unary) or port (streams), and at `<SVC>_ADDRESS` when
// they run elsewhere.
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { startServices, type RunningService, type Runtime } from "../platform/runtime";
import { loadGatewayConfig } from "./config";
import { mountDashboard } from "./dashboard-assets";
import { createUpstream } from "./grpc-upstream";
import { createBridgeHandler } from "./http-bridge";
import { buildOpenApiDocument } from "./openapi";
import { createRouteTable } from "./route-table";
import { loadServiceDescriptors } from "./service-descriptors";

/** Mounts the bridge, the API description and the dashboard on the runtime's HTTP server. */
export async function register(runtime: Runtime): Promise<void> {
  const config = loadGatewayConfig(runtime.env);
  const descriptors = loadServiceDescriptors();
  const routes = createRouteTable(descriptors.methods);
  const upstream = createUpstream(runtime, descriptors.methods, { inProcess: config.inProcess });

  const openApiText = JSON.stringify(buildOpenApiDocument(descriptors));
  runtime.http.route("GET", "/openapi.json", (_request, response) => {
    response.writeHead(200, { "content-type": "application/json; charset=utf-8", "cache-control": "no-cache" });
    response.end(openApiText);
  });
  const docsPage = readFileSync(path.join(__dirname, "docs.html"), "utf8");
  runtime.http.route("GET", "/docs", (_request, response) => {
    response.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    response.end(docsPage);
  });
  mountDashboard(runtime.http, runtime.logger);
  runtime.http.fallback(createBridgeHandler({ routes, upstream, config, logger: runtime.logger }));
  runtime.logger.info("HTTP bridge mounted", { rpcs: descriptors.methods.length, routes: routes.routes.length, strictJson: config.strictJson });
}

/** Runs the gateway alone: its HTTP port, calling the services at their `<SVC>_ADDRESS`. */
export function start(env: NodeJS.ProcessEnv = process.env): Promise<RunningService> {
  return startServices([register], env);
}
