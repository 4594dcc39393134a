// Structured logging: one JSON object per line, so log shippers need no parsing rules. Every record carries the
// trace and span id of the active OpenTelemetry span, which joins a log line to its trace. Secrets never reach the
// output: values under sensitive keys are replaced at any depth and bearer tokens or JWTs inside strings are masked.
import { isSpanContextValid, trace } from '@opentelemetry/api';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger whose records all carry `fields` as well. */
  child(fields: LogFields): Logger;
  isLevelEnabled(level: LogLevel): boolean;
}

export interface LoggerOptions {
  name: string;
  /** Records below this level are dropped; `silent` drops everything (tests). */
  level?: LogLevel | 'silent';
  /** Where lines go; standard output by default. */
  stream?: { write(chunk: string): unknown };
}

const LEVEL_RANK: Record<LogLevel | 'silent', number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };
const SENSITIVE_KEY = /authorization|token|password|passwd|secret|cookie|api[-_]?key|credential|private[-_]?key/i;
const BEARER = /\b(Bearer)\s+[A-Za-z0-9\-._~+/]+=*/gi;
const JWT = /\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g;
// Credentials embedded in URLs, e.g. amqp://user:password@host.
const URL_CREDENTIALS = /(\b[a-z][a-z0-9+.-]*:\/\/[^:/@\s]+):[^@\s]+@/gi;
const REDACTED = '[REDACTED]';
const MAX_DEPTH = 8;

/** Masks bearer tokens, JWTs and URL passwords inside free text. */
export function redactText(text: string): string {
  return text.replace(BEARER, `$1 ${REDACTED}`).replace(JWT, REDACTED).replace(URL_CREDENTIALS, `$1:${REDACTED}@`);
}

/** A copy of `value` that is safe to print: sensitive keys replaced, tokens masked, errors flattened. */
export function redact(value: unknown, depth = 0, seen: WeakSet<object> = new WeakSet()): unknown {
  if (typeof value === 'string') return redactText(value);
  if (value === null || typeof value !== 'object') {
    return typeof value === 'bigint' ? value.toString() : value;
  }
  if (seen.has(value)) return '[Circular]';
  if (depth >= MAX_DEPTH) return '[Truncated]';
  seen.add(value);
  if (value instanceof Error) return serializeError(value, depth, seen);
  if (value instanceof Date) return value.toISOString();
  if (Buffer.isBuffer(value)) return `[Buffer ${value.length} bytes]`;
  if (Array.isArray(value)) return value.map((item) => redact(item, depth + 1, seen));
  // Decimal, URL and similar value objects print as their string form.
  if (!isPlainObject(value) && typeof (value as { toString?: unknown }).toString === 'function') {
    const text = String(value);
    if (text !== '[object Object]') return redactText(text);
  }
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value)) {
    out[key] = SENSITIVE_KEY.test(key) ? REDACTED : redact(child, depth + 1, seen);
  }
  return out;
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function serializeError(error: Error, depth: number, seen: WeakSet<object>): Record<string, unknown> {
  const out: Record<string, unknown> = { type: error.name, message: redactText(error.message) };
  if (error.stack !== undefined) out.stack = redactText(error.stack);
  for (const [key, child] of Object.entries(error)) {
    out[key] = SENSITIVE_KEY.test(key) ? REDACTED : redact(child, depth + 1, seen);
  }
  if (error.cause !== undefined) out.cause = redact(error.cause, depth + 1, seen);
  return out;
}

/** Creates a JSON-lines logger. */
export function createLogger(options: LoggerOptions): Logger {
  const threshold = LEVEL_RANK[options.level ?? 'info'];
  const stream = options.stream ?? process.stdout;
  return build(options.name, threshold, stream, {});
}

function build(name: string, threshold: number, stream: { write(chunk: string): unknown }, bound: LogFields): Logger {
  const write = (level: LogLevel, msg: string, fields?: LogFields): void => {
    if (LEVEL_RANK[level] < threshold) return;
    const record: Record<string, unknown> = { time: new Date().toISOString(), level, name, msg: redactText(msg) };
    const span = trace.getActiveSpan();
    const spanContext = span?.spanContext();
    if (spanContext !== undefined && isSpanContextValid(spanContext)) {
      record.trace_id = spanContext.traceId;
      record.span_id = spanContext.spanId;
    }
    const extra = redact({ ...bound, ...fields }) as LogFields;
    for (const [key, value] of Object.entries(extra)) {
      // Reserved keys stay authoritative so a field cannot forge the level or the time of a record.
      if (!(key in record)) record[key] = value;
    }
    stream.write(`${JSON.stringify(record)}\n`);
  };
  return {
    debug: (msg, fields) => write('debug', msg, fields),
    info: (msg, fields) => write('info', msg, fields),
    warn: (msg, fields) => write('warn', msg, fields),
    error: (msg, fields) => write('error', msg, fields),
    child: (fields) => build(name, threshold, stream, { ...bound, ...fields }),
    isLevelEnabled: (level) => LEVEL_RANK[level] >= threshold,
  };
}
