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
  const payload = `${VERSION}|${position.epoch}|${entries.map(([symbol, seq]) => `${symbol}:${seq}`).join(",")}`;
  return Buffer.from(`${payload}|${checksum(payload)}`, "utf8").toString("base64url");
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
