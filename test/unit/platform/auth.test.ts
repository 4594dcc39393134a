import { expect } from "chai";
import { SignJWT } from "jose";
import {
  authenticate,
  authorizePortfolio,
  createAuthenticator,
  issueToken,
  requireRole,
  type AuthSettings,
} from "../../../services/platform/auth";
import { DomainError } from "../../../services/platform/errors";

const settings: AuthSettings = { secret: "a-test-secret-of-at-least-32-bytes!!", issuer: "tradeplane", audience: "tradeplane-api" };

async function rejection(promise: Promise<unknown>): Promise<DomainError> {
  try {
    await promise;
  } catch (error) {
    expect(error).to.be.instanceOf(DomainError);
    return error as DomainError;
  }
  return expect.fail("expected a rejection");
}

describe("platform auth", () => {
  const authenticator = createAuthenticator(settings);

  it("verifies an issued token into a principal with its roles and portfolios", async () => {
    const token = await issueToken(settings, { sub: "alice", roles: ["trader"], portfolios: ["p1", "p2"] }, 60);
    const principal = await authenticator.verify(token);
    expect(principal.subject).to.equal("alice");
    expect([...principal.roles]).to.deep.equal(["trader"]);
    expect([...principal.portfolios]).to.deep.equal(["p1", "p2"]);
    expect(principal.allPortfolios).to.equal(false);
  });

  it("grants every portfolio to a wildcard claim and to admin and service roles", async () => {
    for (const claims of [
      { sub: "w", roles: ["trader"] as const, portfolios: ["*"] },
      { sub: "a", roles: ["admin"] as const, portfolios: [] },
      { sub: "s", roles: ["service"] as const, portfolios: [] },
    ]) {
      const principal = await authenticator.verify(await issueToken(settings, { ...claims, roles: [...claims.roles] }, 60));
      expect(principal.allPortfolios, claims.sub).to.equal(true);
      expect(() => authorizePortfolio(principal, "any")).not.to.throw();
    }
  });

  it("rejects an expired token as TOKEN_EXPIRED", async () => {
    const token = await issueToken(settings, { sub: "alice", roles: ["trader"], portfolios: [] }, -10);
    const error = await rejection(authenticator.verify(token));
    expect(error).to.include({ kind: "unauthenticated", code: "TOKEN_EXPIRED" });
  });

  it("rejects a token signed with another secret, for another audience, or garbage", async () => {
    const other = await issueToken({ ...settings, secret: "another-secret-of-at-least-32-bytes!" }, { sub: "x", roles: [], portfolios: [] }, 60);
    const wrongAudience = await issueToken({ ...settings, audience: "elsewhere" }, { sub: "x", roles: [], portfolios: [] }, 60);
    for (const token of [other, wrongAudience, "not-a-jwt"]) {
      const error = await rejection(authenticator.verify(token));
      expect(error).to.include({ kind: "unauthenticated", code: "TOKEN_INVALID" });
    }
  });

  it("rejects an unsigned (alg none) token", async () => {
    const header = Buffer.from(JSON.stringify({ alg: "none" })).toString("base64url");
    const body = Buffer.from(JSON.stringify({ sub: "eve", roles: ["admin"], iss: settings.issuer, aud: settings.audience, exp: 9e9 })).toString("base64url");
    const error = await rejection(authenticator.verify(`${header}.${body}.`));
    expect(error.code).to.equal("TOKEN_INVALID");
  });

  it("rejects malformed roles claims", async () => {
    const token = await new SignJWT({ roles: "admin" })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("eve")
      .setIssuer(settings.issuer)
      .setAudience(settings.audience)
      .setExpirationTime("1m")
      .sign(new TextEncoder().encode(settings.secret));
    const error = await rejection(authenticator.verify(token));
    expect(error.code).to.equal("TOKEN_INVALID");
  });

  it("refuses a secret shorter than 32 bytes", () => {
    expect(() => createAuthenticator({ ...settings, secret: "short" })).to.throw(/at least 32 bytes/);
  });

  it("denies a portfolio not in the token and a missing role with permission_denied", async () => {
    const principal = await authenticator.verify(await issueToken(settings, { sub: "bob", roles: ["trader"], portfolios: ["p1"] }, 60));
    expect(() => authorizePortfolio(principal, "p1")).not.to.throw();
    expect(() => authorizePortfolio(principal, "p2")).to.throw(DomainError).with.property("code", "PORTFOLIO_NOT_PERMITTED");
    expect(() => requireRole(principal, "trader", "admin")).not.to.throw();
    try {
      requireRole(principal, "admin");
      expect.fail("should throw");
    } catch (error) {
      expect(error).to.include({ kind: "permission_denied", code: "ROLE_REQUIRED" });
    }
  });

  it("reads a bearer header: a token seen before answers at once, a new one after verification, none is TOKEN_MISSING", async () => {
    const fresh = createAuthenticator(settings);
    const token = await issueToken(settings, { sub: "dora", roles: ["trader"], portfolios: ["p1"] }, 60);
    const first = authenticate(fresh, `Bearer ${token}`);
    expect(first).to.be.instanceOf(Promise);
    expect((await first).subject).to.equal("dora");
    const again = authenticate(fresh, `bearer ${token}`);
    expect(again).not.to.be.instanceOf(Promise);
    expect((again as Awaited<typeof first>).subject).to.equal("dora");
    for (const header of [undefined, "", `Basic ${token}`, "Bearer"]) {
      expect(() => authenticate(fresh, header), String(header)).to.throw(DomainError).with.property("code", "TOKEN_MISSING");
    }
  });
});
