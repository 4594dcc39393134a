// Typed errors that domain code throws. They carry a stable string code (the contract clients switch on) and a
// message safe to show a client; `cause` is kept for logs only. The transport edge (error-mapping.ts) turns them into
// gRPC statuses with google.rpc details, so nothing here knows about gRPC.

/** The class of failure, which decides the status a client sees. */
export type ErrorKind =
  | 'invalid'
  | 'not_found'
  | 'already_exists'
  | 'failed_precondition'
  | 'aborted'
  | 'resource_exhausted'
  | 'unavailable'
  | 'permission_denied'
  | 'unauthenticated';

/** One invalid field of a request, e.g. `{ field: "quantity", description: "must be positive" }`. */
export interface FieldViolation {
  field: string;
  description: string;
}

/** One unmet precondition, e.g. `{ type: "ORDER_STATE", subject: "order/42", description: "order is filled" }`. */
export interface PreconditionViolation {
  type: string;
  subject: string;
  description: string;
}

export interface DomainErrorOptions {
  violations?: readonly FieldViolation[];
  preconditions?: readonly PreconditionViolation[];
  /** Structured facts for the client (ErrorInfo metadata), e.g. `{ available: "100.00" }`. */
  metadata?: Readonly<Record<string, string>>;
  /** How long the client should wait before retrying (RetryInfo). */
  retryAfterMs?: number;
  /** The underlying failure, for logs only: never sent to a client. */
  cause?: unknown;
}

const CODE_PATTERN = /^[A-Z][A-Z0-9_]*$/;

/** A failure the domain expects and names; its code is stable and its message is safe to show a client. */
export class DomainError extends Error {
  readonly kind: ErrorKind;
  readonly code: string;
  readonly violations?: readonly FieldViolation[];
  readonly preconditions?: readonly PreconditionViolation[];
  readonly metadata?: Readonly<Record<string, string>>;
  readonly retryAfterMs?: number;

  constructor(kind: ErrorKind, code: string, message: string, options: DomainErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    // A malformed code would silently break every client that switches on it, so fail loudly where it is written.
    if (!CODE_PATTERN.test(code)) throw new TypeError(`DomainError code must be UPPER_SNAKE, got "${code}"`);
    this.name = 'DomainError';
    this.kind = kind;
    this.code = code;
    if (options.violations !== undefined) this.violations = options.violations;
    if (options.preconditions !== undefined) this.preconditions = options.preconditions;
    if (options.metadata !== undefined) this.metadata = options.metadata;
    if (options.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
  }
}

/** True for a DomainError, also one thrown by another copy of this module. */
export function isDomainError(error: unknown): error is DomainError {
  return error instanceof DomainError || (error instanceof Error && error.name === 'DomainError' && 'kind' in error);
}

/** The request is malformed or breaks a rule of its own fields. */
export function invalid(
  code: string,
  message: string,
  violations?: readonly FieldViolation[],
  options: Omit<DomainErrorOptions, 'violations'> = {},
): DomainError {
  return new DomainError('invalid', code, message, violations === undefined ? options : { ...options, violations });
}

/** The named thing does not exist (or the caller may not know it exists). */
export function notFound(code: string, message: string, options?: DomainErrorOptions): DomainError {
  return new DomainError('not_found', code, message, options);
}

/** The thing to create exists already, e.g. an idempotency key reused with a different payload. */
export function alreadyExists(code: string, message: string, options?: DomainErrorOptions): DomainError {
  return new DomainError('already_exists', code, message, options);
}

/** The system is not in a state that allows the operation; retrying the same call will not help. */
export function failedPrecondition(code: string, message: string, options?: DomainErrorOptions): DomainError {
  return new DomainError('failed_precondition', code, message, options);
}

/** A concurrent change won; the client may retry the whole read-modify-write. */
export function aborted(code: string, message: string, options?: DomainErrorOptions): DomainError {
  return new DomainError('aborted', code, message, options);
}

/** A quota or limit is used up; `retryAfterMs` tells when to try again. */
export function resourceExhausted(code: string, message: string, options?: DomainErrorOptions): DomainError {
  return new DomainError('resource_exhausted', code, message, options);
}

/** A dependency is down; the same call may succeed later. */
export function unavailable(code: string, message: string, options?: DomainErrorOptions): DomainError {
  return new DomainError('unavailable', code, message, options);
}

/** The caller is known but may not do this. */
export function permissionDenied(code: string, message: string, options?: DomainErrorOptions): DomainError {
  return new DomainError('permission_denied', code, message, options);
}

/** The caller did not prove who it is. */
export function unauthenticated(code: string, message: string, options?: DomainErrorOptions): DomainError {
  return new DomainError('unauthenticated', code, message, options);
}
