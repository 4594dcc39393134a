// Serves the dashboard: `services/gateway/dashboard/` holds the page, its stylesheet and its TypeScript, which is
// bundled with the browser client by esbuild (a dependency of tsx, already installed) on first request and kept in
// memory. No network at runtime, no build step to remember, and the page always matches the client it ships with.
import { readFileSync } from "node:fs";
import * as path from "node:path";
import type { TradeplaneHttpServer } from "../platform/http-server";
import type { Logger } from "../platform/logger";

const DASHBOARD_DIR = path.join(__dirname, "dashboard");

/** Bundles the dashboard script (and the browser client it imports) into one browser-ready file. */
export async function bundleDashboardScript(): Promise<string> {
  // Loaded lazily: only processes that serve the dashboard pay for esbuild.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const esbuild = require("esbuild") as typeof import("esbuild");
  const result = await esbuild.build({
    entryPoints: [path.join(DASHBOARD_DIR, "dashboard.ts")],
    bundle: true,
    write: false,
    format: "iife",
    target: ["es2020"],
    platform: "browser",
    minify: true,
    sourcemap: false,
    logLevel: "silent",
  });
  return result.outputFiles[0]!.text;
}

export function mountDashboard(http: TradeplaneHttpServer, logger: Logger): void {
  let script: Promise<string> | undefined;
  const page = (file: string, contentType: string) => {
    const text = readFileSync(path.join(DASHBOARD_DIR, file), "utf8");
    return (_request: unknown, response: import("node:http").ServerResponse) => {
      response.writeHead(200, { "content-type": contentType, "cache-control": "no-cache" });
      response.end(text);
    };
  };
  http.route("GET", "/", page("index.html", "text/html; charset=utf-8"));
  http.route("GET", "/dashboard.css", page("dashboard.css", "text/css; charset=utf-8"));
  http.route("GET", "/dashboard.js", async (_request, response) => {
    script ??= bundleDashboardScript();
    let text: string;
    try {
      text = await script;
    } catch (error) {
      script = undefined;
      logger.error("could not bundle the dashboard script", { err: error });
      response.writeHead(500, { "content-type": "text/plain; charset=utf-8" });
      response.end("the dashboard script could not be built; see the server log");
      return;
    }
    response.writeHead(200, { "content-type": "text/javascript; charset=utf-8", "cache-control": "no-cache" });
    response.end(text);
  });
}
