// A small typed reader for configuration from environment variables. Each service declares a spec of fields once,
// `loadConfig` reads it at startup and reports every missing or invalid key in one error, so an operator fixes the
// whole environment in one go instead of one key per restart. The result is frozen: configuration is read once.

/** One configuration key: where it comes from, how it is parsed, and what happens when it is absent. */
export interface Field<T> {
  readonly env: string;
  /** Human-readable type, used in error messages and generated docs. */
  readonly kind: string;
  readonly description?: string;
  /** Parses a non-empty raw value; throws an Error whose message says what was expected. */
  parse(raw: string): T;
  /** The value when the variable is unset or empty; `absent` means the key is required. */
  readonly fallback: { readonly present: true; readonly value: T } | { readonly present: false; readonly required: boolean };
  /** Never echo the raw value (tokens, passwords) in an error message. */
  readonly secret: boolean;
}

/** A spec is a tree of fields; groups become nested objects of the loaded config. */
export interface ConfigSpec {
  readonly [key: string]: Field<unknown> | ConfigSpec;
}

/** The typed object `loadConfig` returns for a spec. */
export type ConfigOf<S extends ConfigSpec> = {
  readonly [K in keyof S]: S[K] extends Field<infer T> ? T : S[K] extends ConfigSpec ? ConfigOf<S[K]> : never;
};

export interface ConfigIssue {
  env: string;
  problem: string;
}

/** Every missing or invalid key found by one `loadConfig` call. */
export class ConfigError extends Error {
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[]) {
    super(`invalid configuration:\n${issues.map((issue) => `  ${issue.env}: ${issue.problem}`).join('\n')}`);
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

interface BaseOptions<T> {
  env: string;
  default?: T;
  /** Absent and without default reads as `undefined` instead of an error. */
  optional?: boolean;
  description?: string;
  /** Extra check on the parsed value; return a problem description to reject it. */
  validate?: (value: T) => string | undefined;
  secret?: boolean;
}

/** The value type a field builder produces: optional fields without a default may be `undefined`. */
type Resolved<T, O> = O extends { optional: true } ? (O extends { default: T } ? T : T | undefined) : T;

function field<T, O extends BaseOptions<T>>(kind: string, options: O, parse: (raw: string) => T): Field<Resolved<T, O>> {
  const check = options.validate;
  const built: Field<T> = {
    env: options.env,
    kind,
    ...(options.description === undefined ? {} : { description: options.description }),
    parse(raw) {
      const value = parse(raw);
      const problem = check?.(value);
      if (problem !== undefined) throw new Error(problem);
      return value;
    },
    fallback:
      options.default !== undefined
        ? { present: true, value: options.default }
        : { present: false, required: options.optional !== true },
    secret: options.secret === true,
  };
  return built as Field<Resolved<T, O>>;
}

export interface StrOptions extends BaseOptions<string> {
  minLength?: number;
  pattern?: RegExp;
}

export function str<const O extends StrOptions>(options: O): Field<Resolved<string, O>> {
  return field('string', options, (raw) => {
    if (options.minLength !== undefined && raw.length < options.minLength) {
      throw new Error(`must be at least ${options.minLength} characters`);
    }
    if (options.pattern !== undefined && !options.pattern.test(raw)) throw new Error(`must match ${options.pattern}`);
    return raw;
  });
}

export interface IntOptions extends BaseOptions<number> {
  min?: number;
  max?: number;
}

export function int<const O extends IntOptions>(options: O): Field<Resolved<number, O>> {
  return field('integer', options, (raw) => {
    if (!/^-?\d+$/.test(raw.trim())) throw new Error('must be an integer');
    return inRange(Number(raw), options.min, options.max);
  });
}

const TRUE_WORDS = new Set(['1', 'true', 'yes', 'on']);
const FALSE_WORDS = new Set(['0', 'false', 'no', 'off']);

export function bool<const O extends BaseOptions<boolean>>(options: O): Field<Resolved<boolean, O>> {
  return field('boolean', options, (raw) => {
    const word = raw.trim().toLowerCase();
    if (TRUE_WORDS.has(word)) return true;
    if (FALSE_WORDS.has(word)) return false;
    throw new Error('must be one of true/false, 1/0, yes/no, on/off');
  });
}

export interface UrlOptions extends BaseOptions<string> {
  /** Accepted schemes without the colon, e.g. `["postgres", "postgresql"]`. */
  protocols?: readonly string[];
}

/** A URL, kept as the string given (drivers parse it themselves) once it has been checked to parse. */
export function url<const O extends UrlOptions>(options: O): Field<Resolved<string, O>> {
  return field('url', options, (raw) => {
    let parsed: URL;
    try {
      parsed = new URL(raw);
    } catch {
      throw new Error('must be an absolute URL');
    }
    const scheme = parsed.protocol.replace(/:$/, '');
    if (options.protocols !== undefined && !options.protocols.includes(scheme)) {
      throw new Error(`must use one of the schemes ${options.protocols.join(', ')}`);
    }
    return raw;
  });
}

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

export interface DurationOptions extends BaseOptions<number> {
  minMs?: number;
  maxMs?: number;
}

/** A duration in milliseconds, written as `250`, `250ms`, `5s`, `2m` or `1h`. */
export function durationMs<const O extends DurationOptions>(options: O): Field<Resolved<number, O>> {
  return field('duration', options, (raw) => {
    const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/.exec(raw.trim());
    if (match === null) throw new Error('must be a duration such as 500ms, 5s, 2m or 1h');
    const millis = Math.round(Number(match[1]) * DURATION_UNITS_MS[match[2] ?? 'ms']!);
    return inRange(millis, options.minMs, options.maxMs);
  });
}

export interface ListOptions extends BaseOptions<readonly string[]> {
  separator?: string;
  /** When set, every item must be one of these. */
  allowed?: readonly string[];
}

/** A separated list (comma by default); items are trimmed and empty items dropped. */
export function list<const O extends ListOptions>(options: O): Field<Resolved<readonly string[], O>> {
  return field('list', options, (raw) => {
    const items = raw
      .split(options.separator ?? ',')
      .map((item) => item.trim())
      .filter((item) => item.length > 0);
    const allowed = options.allowed;
    if (allowed !== undefined) {
      const unknown = items.filter((item) => !allowed.includes(item));
      if (unknown.length > 0) throw new Error(`unknown item(s) ${unknown.join(', ')}; allowed: ${allowed.join(', ')}`);
    }
    return Object.freeze(items);
  });
}

/** One of a fixed set of words, typed as their union. */
export function oneOf<const V extends readonly string[], const O extends BaseOptions<V[number]>>(
  values: V,
  options: O,
): Field<Resolved<V[number], O>> {
  return field(`one of ${values.join('|')}`, options, (raw) => {
    const value = raw.trim();
    if (!values.includes(value)) throw new Error(`must be one of ${values.join(', ')}`);
    return value as V[number];
  });
}

function inRange(value: number, min: number | undefined, max: number | undefined): number {
  if (!Number.isSafeInteger(value)) throw new Error('is out of the safe integer range');
  if (min !== undefined && value < min) throw new Error(`must be at least ${min}`);
  if (max !== undefined && value > max) throw new Error(`must be at most ${max}`);
  return value;
}

function isField(node: Field<unknown> | ConfigSpec): node is Field<unknown> {
  return typeof (node as Field<unknown>).parse === 'function' && typeof (node as Field<unknown>).env === 'string';
}

/**
 * Reads `spec` from `env`. Unset and empty variables both count as absent. Throws one ConfigError listing every
 * missing or invalid key; returns a deeply frozen object otherwise.
 */
export function loadConfig<S extends ConfigSpec>(
  spec: S,
  env: Readonly<Record<string, string | undefined>> = process.env,
): ConfigOf<S> {
  const issues: ConfigIssue[] = [];

  const read = (node: ConfigSpec): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(node)) {
      if (!isField(child)) {
        out[key] = Object.freeze(read(child));
        continue;
      }
      const raw = env[child.env];
      if (raw === undefined || raw === '') {
        if (child.fallback.present) out[key] = child.fallback.value;
        else if (child.fallback.required) issues.push({ env: child.env, problem: `required (${child.kind}) but not set` });
        else out[key] = undefined;
        continue;
      }
      try {
        out[key] = child.parse(raw);
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        const shown = child.secret ? '' : ` (got "${raw.length > 80 ? `${raw.slice(0, 80)}…` : raw}")`;
        issues.push({ env: child.env, problem: `${reason}${shown}` });
      }
    }
    return out;
  };

  const config = read(spec);
  if (issues.length > 0) throw new ConfigError(issues);
  return Object.freeze(config) as ConfigOf<S>;
}
