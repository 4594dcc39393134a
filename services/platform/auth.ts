// Authentication by HS256 JWT bearer tokens and the two authorization checks every use case needs. The middleware
// verifies the token once per call and puts the resulting Principal on the call context; object-level checks
// (`authorizePortfolio`) stay in the use cases, which know which portfolio a request touches.
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import type { CallContext, ServerMiddleware } from 'nice-grpc-common';
import { permissionDenied, unauthenticated } from './errors';

export type Role = 'trader' | 'admin' | 'service' | 'feed';
const ROLES: ReadonlySet<string> = new Set<Role>(['trader', 'admin', 'service', 'feed']);

/** Who is calling and what they may touch. */
export interface Principal {
  readonly subject: string;
  readonly roles: ReadonlySet<Role>;
  /** Portfolio ids named in the token; irrelevant when `allPortfolios`. */
  readonly portfolios: ReadonlySet<string>;
  /** True for `portfolios: ["*"]` and for the admin and service roles. */
  readonly allPortfolios: boolean;
}

export interface AuthSettings {
  /** HMAC key; at least 32 bytes, as HS256 keys shorter than the hash are guessable. */
  secret: string;
  issuer: string;
  audience: string;
}

export interface Authenticator {
  /** Resolves the principal of a raw JWT, or throws DomainError 'unauthenticated'. */
  verify(token: string): Promise<Principal>;
  /**
   * The principal of a token verified before, without waiting (undefined when it has not been seen); throws
   * 'unauthenticated' once it has expired. Lets the per-call path skip a promise for the common case.
   */
  verifyCached(token: string): Principal | undefined;
}

export interface TokenClaims {
  sub: string;
  roles: readonly Role[];
  portfolios: readonly string[];
}

/** The call context of every authenticated RPC. */
export type AuthCallContext = { principal: Principal };

const MIN_SECRET_BYTES = 32;
// Verifying a token costs an HMAC and claim checks; most callers reuse one token for many calls, so verified tokens
// are remembered (bounded) until they expire.
const VERIFIED_CACHE_SIZE = 10_000;

function keyOf(secret: string): Uint8Array {
  const key = new TextEncoder().encode(secret);
  if (key.length < MIN_SECRET_BYTES) throw new Error(`the JWT secret must be at least ${MIN_SECRET_BYTES} bytes`);
  return key;
}

/** Signs a token for `claims`, valid for `ttlSeconds` (development tokens, tests, service accounts). */
export async function issueToken(settings: AuthSettings, claims: TokenClaims, ttlSeconds: number): Promise<string> {
  const nowSeconds = Math.floor(Date.now() / 1000);
  return new SignJWT({ roles: [...claims.roles], portfolios: [...claims.portfolios] })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(claims.sub)
    .setIssuer(settings.issuer)
    .setAudience(settings.audience)
    .setIssuedAt(nowSeconds)
    .setExpirationTime(nowSeconds + ttlSeconds)
    .sign(keyOf(settings.secret));
}

export function createAuthenticator(settings: AuthSettings): Authenticator {
  const key = keyOf(settings.secret);
  const verified = new Map<string, { principal: Principal; expiresAtMs: number }>();

  function verifyCached(token: string): Principal | undefined {
    const cached = verified.get(token);
    if (cached === undefined) return undefined;
    if (cached.expiresAtMs > Date.now()) return cached.principal;
    verified.delete(token);
    throw unauthenticated('TOKEN_EXPIRED', 'the access token has expired');
  }

  return {
    verifyCached,
    async verify(token) {
      const cached = verifyCached(token);
      if (cached !== undefined) return cached;
      let payload;
      try {
        ({ payload } = await jwtVerify(token, key, {
          algorithms: ['HS256'],
          issuer: settings.issuer,
          audience: settings.audience,
          requiredClaims: ['sub', 'exp'],
        }));
      } catch (error) {
        if (error instanceof joseErrors.JWTExpired) {
          throw unauthenticated('TOKEN_EXPIRED', 'the access token has expired', { cause: error });
        }
        throw unauthenticated('TOKEN_INVALID', 'the access token is not valid', { cause: error });
      }
      const principal = principalOf(payload);
      if (verified.size >= VERIFIED_CACHE_SIZE) verified.delete(verified.keys().next().value as string);
      verified.set(token, { principal, expiresAtMs: (payload.exp as number) * 1000 });
      return principal;
    },
  };
}

function principalOf(payload: Record<string, unknown>): Principal {
  const { sub, roles, portfolios } = payload;
  if (typeof sub !== 'string' || sub.length === 0) throw unauthenticated('TOKEN_INVALID', 'the access token has no subject');
  if (!isStringArray(roles ?? []) || !isStringArray(portfolios ?? [])) {
    throw unauthenticated('TOKEN_INVALID', 'the access token has malformed roles or portfolios claims');
  }
  // Unknown roles are ignored rather than rejected, so a newer issuer can add roles without locking anyone out.
  const roleSet = new Set((roles as string[] | undefined ?? []).filter((role): role is Role => ROLES.has(role)));
  const portfolioList = (portfolios as string[] | undefined) ?? [];
  const allPortfolios = portfolioList.includes('*') || roleSet.has('admin') || roleSet.has('service');
  return Object.freeze({
    subject: sub,
    roles: roleSet,
    portfolios: new Set(portfolioList.filter((id) => id !== '*')),
    allPortfolios,
  });
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}

/** Services every client may call without a token: probes and tooling need them before anything else. */
export const UNAUTHENTICATED_SERVICE_PREFIXES: readonly string[] = [
  '/grpc.health.v1.Health/',
  '/grpc.reflection.v1.ServerReflection/',
  '/grpc.reflection.v1alpha.ServerReflection/',
];

/** The principal of calls to exempt services. */
export const ANONYMOUS_PRINCIPAL: Principal = Object.freeze({
  subject: '',
  roles: new Set<Role>(),
  portfolios: new Set<string>(),
  allPortfolios: false,
});

/** True for the methods of services anyone may call without a token (health, reflection). */
export function isAuthExempt(methodPath: string): boolean {
  return UNAUTHENTICATED_SERVICE_PREFIXES.some((prefix) => methodPath.startsWith(prefix));
}

/**
 * The principal behind an `authorization: Bearer <jwt>` header value. A token verified before comes back
 * synchronously (no promise on the hot path); a new one is verified asynchronously. Throws 'unauthenticated'.
 */
export function authenticate(authenticator: Authenticator, header: string | undefined): Principal | Promise<Principal> {
  const match = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (match === null) {
    throw unauthenticated('TOKEN_MISSING', 'an "authorization: Bearer <token>" header is required');
  }
  return authenticator.verifyCached(match[1]!) ?? authenticator.verify(match[1]!);
}

/** Reads `authorization: Bearer <jwt>`, verifies it and adds `principal` to the call context (streaming calls). */
export function createAuthMiddleware(authenticator: Authenticator): ServerMiddleware<AuthCallContext> {
  return async function* authMiddleware(call, context: CallContext) {
    if (isAuthExempt(call.method.path)) {
      return yield* call.next(call.request, { ...context, principal: ANONYMOUS_PRINCIPAL });
    }
    const principal = await authenticate(authenticator, context.metadata.get('authorization'));
    return yield* call.next(call.request, { ...context, principal });
  };
}

/** Throws 'permission_denied' unless the principal may act on `portfolioId`. */
export function authorizePortfolio(principal: Principal, portfolioId: string): void {
  if (principal.allPortfolios || principal.portfolios.has(portfolioId)) return;
  throw permissionDenied('PORTFOLIO_NOT_PERMITTED', `not permitted to act on portfolio ${portfolioId}`, {
    metadata: { portfolioId },
  });
}

/** Throws 'permission_denied' unless the principal holds at least one of `roles`. */
export function requireRole(principal: Principal, ...roles: Role[]): void {
  if (roles.some((role) => principal.roles.has(role))) return;
  throw permissionDenied('ROLE_REQUIRED', `requires one of the roles ${roles.join(', ')}`, {
    metadata: { requiredRoles: roles.join(',') },
  });
}
