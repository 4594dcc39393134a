import { MarketDataError } from "./errors";

/** Where a subscriber stood: the producer's epoch and the last seq it received per symbol. */
export interface ResumePosition {
  readonly epoch: number;
  readonly seqBySymbol: ReadonlyMap<string, number>;
}

const VERSION = "r1";
/** A token for a thousand long symbols stays well below this; anything larger is not ours. */
const MAX_TOKEN_LENGTH = 32 * 1024;

/** FNV-1a over the payload: catches a truncated or hand-edited token, it is not a signature. */
function checksum(text: string): string {
  let hash = 0x811c9dc5;
  for (let index = 0; index < text.length; index += 1) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(36);
}

/**
 * Encode a position as an opaque, URL-safe token. Clients store it and hand it back; they must not
 * parse it, so its layout can change with the version prefix.
 */
export function encodeResumeToken(position: ResumePosition): string {
  const entries = [...position.seqBySymbol].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return encodePayload(`${VERSION}|${position.epoch}|${entries.map(([symbol, seq]) => `${symbol}:${seq}`).join(",")}`);
}

function encodePayload(payload: string): string {
  return Buffer.from(`${payload}|${checksum(payload)}`, "utf8").toString("base64url");
}

/** The last one-symbol token made per symbol; an entry is rewritten in place when its seq or epoch moves on. */
const singleSymbolTokens = new Map<string, { epoch: number; seq: number; token: string }>();

/**
 * The token of a position with one symbol, the same as `encodeResumeToken` gives. A quote fans out to every
 * subscriber of its symbol at nearly the same moment, and every one-symbol stream that has just been sent seq N
 * carries the same token, so it is encoded once per (epoch, symbol, seq) instead of once per subscriber. One
 * entry per symbol ever asked for (symbols are checked against the registry first), so the cache is bounded.
 */
export function encodeSingleSymbolToken(epoch: number, symbol: string, seq: number): string {
  let entry = singleSymbolTokens.get(symbol);
  if (entry === undefined) {
    entry = { epoch: -1, seq: -1, token: "" };
    singleSymbolTokens.set(symbol, entry);
  }
  if (entry.epoch !== epoch || entry.seq !== seq) {
    entry.token = encodePayload(`${VERSION}|${epoch}|${symbol}:${seq}`);
    entry.epoch = epoch;
    entry.seq = seq;
  }
  return entry.token;
}

function invalid(reason: string): never {
  throw new MarketDataError("INVALID_RESUME_TOKEN", `resume_token is not valid: ${reason}`, { field: "resume_token" });
}

/** Decode a token from `encodeResumeToken`; throws INVALID_RESUME_TOKEN for anything else. */
export function decodeResumeToken(token: string): ResumePosition {
  if (token.length > MAX_TOKEN_LENGTH) invalid("too long");
  const text = Buffer.from(token, "base64url").toString("utf8");
  const lastBar = text.lastIndexOf("|");
  const payload = text.slice(0, lastBar);
  if (lastBar < 0 || checksum(payload) !== text.slice(lastBar + 1)) invalid("checksum mismatch");
  const [version, epochText, entriesText] = payload.split("|");
  if (version !== VERSION || entriesText === undefined) invalid("unknown version");
  const epoch = Number(epochText);
  if (!Number.isSafeInteger(epoch) || epoch < 0) invalid("bad epoch");
  const seqBySymbol = new Map<string, number>();
  for (const entry of entriesText === "" ? [] : entriesText.split(",")) {
    const separator = entry.lastIndexOf(":");
    const seq = Number(entry.slice(separator + 1));
    if (separator <= 0 || !Number.isSafeInteger(seq) || seq < 0) invalid(`bad entry "${entry}"`);
    seqBySymbol.set(entry.slice(0, separator), seq);
  }
  return { epoch, seqBySymbol };
}
