import { expect } from "chai";
import { platformConfigSpec } from "../../../services/platform/platform-config";
import { bool, ConfigError, durationMs, int, list, loadConfig, oneOf, str, url } from "../../../services/platform/config";

const spec = {
  grpcPort: int({ env: "GRPC_PORT", default: 50051, min: 0, max: 65535 }),
  databaseUrl: url({ env: "DATABASE_URL", optional: true, protocols: ["postgres", "postgresql"] }),
  jwtSecret: str({ env: "JWT_SECRET", minLength: 32, secret: true }),
  logLevel: oneOf(["debug", "info", "warn", "error"] as const, { env: "LOG_LEVEL", default: "info" }),
  shutdownGrace: durationMs({ env: "SHUTDOWN_GRACE", default: 10_000 }),
  services: list({ env: "SERVICES", default: ["marketdata", "orders"], allowed: ["marketdata", "orders", "accounting"] }),
  limits: {
    strict: bool({ env: "REQUIRE_REAL_SERVICES", default: false }),
  },
};

describe("platform config", () => {
  it("reads typed values, applies defaults and freezes the result", () => {
    const config = loadConfig(spec, {
      JWT_SECRET: "x".repeat(32),
      SHUTDOWN_GRACE: "2s",
      SERVICES: "orders, accounting",
      REQUIRE_REAL_SERVICES: "1",
      DATABASE_URL: "postgres://postgres@127.0.0.1:5432/test",
    });
    expect(config.grpcPort).to.equal(50051);
    expect(config.shutdownGrace).to.equal(2000);
    expect(config.services).to.deep.equal(["orders", "accounting"]);
    expect(config.limits.strict).to.equal(true);
    expect(config.logLevel).to.equal("info");
    expect(config.databaseUrl).to.equal("postgres://postgres@127.0.0.1:5432/test");
    expect(Object.isFrozen(config)).to.equal(true);
    expect(Object.isFrozen(config.limits)).to.equal(true);
    expect(() => {
      (config as { grpcPort: number }).grpcPort = 1;
    }).to.throw(TypeError);
  });

  it("leaves an optional key without default undefined and treats an empty value as unset", () => {
    const config = loadConfig(spec, { JWT_SECRET: "y".repeat(40), DATABASE_URL: "", GRPC_PORT: "" });
    expect(config.databaseUrl).to.equal(undefined);
    expect(config.grpcPort).to.equal(50051);
  });

  it("reports every missing and invalid key in one error, without echoing secrets", () => {
    let caught: unknown;
    try {
      loadConfig(spec, {
        GRPC_PORT: "70000",
        DATABASE_URL: "mysql://db",
        LOG_LEVEL: "loud",
        SHUTDOWN_GRACE: "soon",
        SERVICES: "orders,billing",
        REQUIRE_REAL_SERVICES: "maybe",
        JWT_SECRET: "short-secret-value",
      });
    } catch (error) {
      caught = error;
    }
    expect(caught).to.be.instanceOf(ConfigError);
    const error = caught as ConfigError;
    expect(error.issues.map((issue) => issue.env)).to.have.members([
      "GRPC_PORT",
      "DATABASE_URL",
      "JWT_SECRET",
      "LOG_LEVEL",
      "SHUTDOWN_GRACE",
      "SERVICES",
      "REQUIRE_REAL_SERVICES",
    ]);
    expect(error.message).to.contain("GRPC_PORT: must be at most 65535");
    expect(error.message).to.contain("billing");
    expect(error.message).not.to.contain("short-secret-value");
  });

  it("names a required key that is missing", () => {
    expect(() => loadConfig(spec, {})).to.throw(ConfigError, /JWT_SECRET: required/);
  });

  it("runs a custom validation on the parsed value", () => {
    const custom = { ratio: int({ env: "RATIO", default: 1, validate: (v) => (v % 2 === 0 ? undefined : "must be even") }) };
    expect(() => loadConfig(custom, { RATIO: "3" })).to.throw(ConfigError, /RATIO: must be even/);
    expect(loadConfig(custom, { RATIO: "4" }).ratio).to.equal(4);
  });

  it("gives the shared platform keys working defaults on a bare machine", () => {
    const config = loadConfig(platformConfigSpec, {});
    expect(config.grpc.port).to.equal(50051);
    expect(config.http.port).to.equal(8080);
    expect(config.auth.jwtSecret).to.equal(undefined);
    expect(config.telemetry.exporter).to.equal("none");
    expect(config.services).to.include("orders");
    expect(() => loadConfig(platformConfigSpec, { JWT_SECRET: "short", GRPC_PORT: "x" })).to.throw(ConfigError, /GRPC_PORT[\s\S]*JWT_SECRET|JWT_SECRET[\s\S]*GRPC_PORT/);
  });
});
