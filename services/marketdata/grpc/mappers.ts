// Proto <-> domain translation for the market data service. Decimals cross as strings (never a
// float), times as google.protobuf.Timestamp (Date), uint64 seqs as decimal strings.
import {
  AssetClass as ProtoAssetClass,
  BarInterval as ProtoBarInterval,
  InstrumentStatus as ProtoInstrumentStatus,
  type Bar as ProtoBar,
  type Instrument as ProtoInstrument,
  type Quote as ProtoQuote,
  type Tick as ProtoTick,
} from "../../../generated/tradeplane/marketdata/v1/market_data";
import {
  GapReason as ProtoGapReason,
  StreamEndReason as ProtoStreamEndReason,
  StreamQuotesResponse,
  TickRejectionReason,
} from "../../../generated/tradeplane/marketdata/v1/market_data_service";
import type { Bar } from "../domain/bar-aggregation";
import type { BarInterval } from "../domain/bar-interval";
import type { AssetClass, Instrument, InstrumentStatus } from "../domain/instrument";
import type { GapReason } from "../domain/plan-resume";
import type { SequencedQuote } from "../domain/quote";
import type { QuoteFrame } from "../domain/quote-frame";
import type { RawTick, TickRejectionCode } from "../domain/tick-validation";

type Deep<T> = { [K in keyof T]?: T[K] extends object ? Deep<T[K]> : T[K] };

const ASSET_CLASS_TO_PROTO: Record<AssetClass, ProtoAssetClass> = {
  EQUITY: ProtoAssetClass.ASSET_CLASS_EQUITY,
  ETF: ProtoAssetClass.ASSET_CLASS_ETF,
  CRYPTO: ProtoAssetClass.ASSET_CLASS_CRYPTO,
};

const STATUS_TO_PROTO: Record<InstrumentStatus, ProtoInstrumentStatus> = {
  ACTIVE: ProtoInstrumentStatus.INSTRUMENT_STATUS_ACTIVE,
  HALTED: ProtoInstrumentStatus.INSTRUMENT_STATUS_HALTED,
  DELISTED: ProtoInstrumentStatus.INSTRUMENT_STATUS_DELISTED,
};

/** A filter value from the wire; UNSPECIFIED means "any" (undefined). Unknown classes match nothing. */
export function assetClassFilterFromProto(value: ProtoAssetClass): AssetClass | "NONE" | undefined {
  if (value === ProtoAssetClass.ASSET_CLASS_UNSPECIFIED) return undefined;
  const match = (Object.keys(ASSET_CLASS_TO_PROTO) as AssetClass[]).find((key) => ASSET_CLASS_TO_PROTO[key] === value);
  return match ?? "NONE";
}

export function statusFilterFromProto(value: ProtoInstrumentStatus): InstrumentStatus | undefined {
  if (value === ProtoInstrumentStatus.INSTRUMENT_STATUS_UNSPECIFIED) return undefined;
  return (Object.keys(STATUS_TO_PROTO) as InstrumentStatus[]).find((key) => STATUS_TO_PROTO[key] === value);
}

// Every decimal goes out with toFixed(): toString() writes exponent notation below 1e-7 ("1e-8" for a crypto lot
// size), which the wire contract (common.proto) rules out.
export function instrumentToProto(instrument: Instrument): ProtoInstrument {
  const session = instrument.session;
  return {
    securityId: instrument.securityId,
    symbol: instrument.symbol,
    name: instrument.name,
    assetClass: ASSET_CLASS_TO_PROTO[instrument.assetClass],
    currency: instrument.currency,
    exchange: instrument.exchange,
    lotSize: instrument.lotSize.toFixed(),
    minQuantity: instrument.minQuantity.toFixed(),
    tickSize: instrument.tickSize.toFixed(),
    tradable: instrument.isTradable,
    status: STATUS_TO_PROTO[instrument.status],
    session:
      session.kind === "ALWAYS_OPEN"
        ? { timeZone: "UTC", openTime: "", closeTime: "", alwaysOpen: true }
        : { timeZone: session.timeZone, openTime: session.openLocal, closeTime: session.closeLocal, alwaysOpen: false },
    fractionable: instrument.lotSize.lessThan(1),
  };
}

// A quote fanned out to thousands of streams is converted once, not once per stream. Entries go away
// with the quote objects they belong to.
const protoQuotes = new WeakMap<SequencedQuote, ProtoQuote>();

export function quoteToProto(quote: SequencedQuote, securityId: string): ProtoQuote {
  let proto = protoQuotes.get(quote);
  if (proto === undefined || proto.securityId !== securityId) {
    proto = convertQuote(quote, securityId);
    protoQuotes.set(quote, proto);
  }
  return proto;
}

function convertQuote(quote: SequencedQuote, securityId: string): ProtoQuote {
  return {
    symbol: quote.symbol,
    securityId,
    bid: quote.bid.toFixed(),
    ask: quote.ask.toFixed(),
    last: quote.last.toFixed(),
    bidSize: quote.bidSize.toFixed(),
    askSize: quote.askSize.toFixed(),
    volume: quote.volume.toFixed(),
    timestamp: new Date(quote.exchangeTimeMs),
    seq: String(quote.seq),
    lastSize: quote.lastSize.toFixed(),
  };
}

const INTERVAL_FROM_PROTO: Partial<Record<ProtoBarInterval, BarInterval>> = {
  [ProtoBarInterval.BAR_INTERVAL_ONE_MINUTE]: "1m",
  [ProtoBarInterval.BAR_INTERVAL_ONE_HOUR]: "1h",
  [ProtoBarInterval.BAR_INTERVAL_ONE_DAY]: "1d",
};
const INTERVAL_TO_PROTO: Record<BarInterval, ProtoBarInterval> = {
  "1m": ProtoBarInterval.BAR_INTERVAL_ONE_MINUTE,
  "1h": ProtoBarInterval.BAR_INTERVAL_ONE_HOUR,
  "1d": ProtoBarInterval.BAR_INTERVAL_ONE_DAY,
};

export const barIntervalFromProto = (value: ProtoBarInterval): BarInterval | undefined => INTERVAL_FROM_PROTO[value];

export function barToProto(bar: Bar): ProtoBar {
  return {
    symbol: bar.symbol,
    interval: INTERVAL_TO_PROTO[bar.interval],
    startTime: new Date(bar.startMs),
    open: bar.open.toFixed(),
    high: bar.high.toFixed(),
    low: bar.low.toFixed(),
    close: bar.close.toFixed(),
    volume: bar.volume.toFixed(),
    tickCount: bar.tickCount,
  };
}

export function tickFromProto(tick: ProtoTick): RawTick {
  return {
    symbol: tick.symbol,
    bid: tick.bid,
    ask: tick.ask,
    last: tick.last,
    bidSize: tick.bidSize,
    askSize: tick.askSize,
    lastSize: tick.lastSize,
    exchangeTimeMs: tick.timestamp?.getTime(),
  };
}

/** The wire keeps fewer reasons than the domain: field problems fold into INVALID_FIELD, time ones into STALE. */
export const TICK_REJECTION_TO_PROTO: Record<TickRejectionCode, TickRejectionReason> = {
  UNKNOWN_SYMBOL: TickRejectionReason.TICK_REJECTION_REASON_UNKNOWN_SYMBOL,
  INSTRUMENT_NOT_ACTIVE: TickRejectionReason.TICK_REJECTION_REASON_INSTRUMENT_NOT_ACTIVE,
  MISSING_PRICE: TickRejectionReason.TICK_REJECTION_REASON_INVALID_FIELD,
  INVALID_DECIMAL: TickRejectionReason.TICK_REJECTION_REASON_INVALID_FIELD,
  NON_POSITIVE_PRICE: TickRejectionReason.TICK_REJECTION_REASON_NON_POSITIVE_PRICE,
  OFF_TICK_GRID: TickRejectionReason.TICK_REJECTION_REASON_OFF_TICK_GRID,
  NEGATIVE_SIZE: TickRejectionReason.TICK_REJECTION_REASON_INVALID_FIELD,
  CROSSED_QUOTE: TickRejectionReason.TICK_REJECTION_REASON_CROSSED_QUOTE,
  MISSING_TIMESTAMP: TickRejectionReason.TICK_REJECTION_REASON_INVALID_FIELD,
  STALE_TIMESTAMP: TickRejectionReason.TICK_REJECTION_REASON_STALE_TIMESTAMP,
  FUTURE_TIMESTAMP: TickRejectionReason.TICK_REJECTION_REASON_STALE_TIMESTAMP,
};

const GAP_REASON_TO_PROTO: Record<GapReason, ProtoGapReason> = {
  BUFFER_EXPIRED: ProtoGapReason.GAP_REASON_BUFFER_EXPIRED,
  EPOCH_CHANGED: ProtoGapReason.GAP_REASON_EPOCH_CHANGED,
  REPLAY_LIMIT: ProtoGapReason.GAP_REASON_REPLAY_LIMIT,
  BUS_GAP: ProtoGapReason.GAP_REASON_BUS_GAP,
  TOKEN_AHEAD: ProtoGapReason.GAP_REASON_TOKEN_AHEAD,
};

/** The encoded `update` field of a quote (field order is free in protobuf, so it can follow any envelope). */
const encodedUpdates = new WeakMap<SequencedQuote, { securityId: string; bytes: Uint8Array }>();

/** The encoded `update` field of a quote, shared by every subscriber of its symbol. */
function encodedUpdate(quote: SequencedQuote, securityId: string): Uint8Array {
  let update = encodedUpdates.get(quote);
  if (update === undefined || update.securityId !== securityId) {
    const frame = { $case: "update" as const, value: quoteToProto(quote, securityId) };
    update = { securityId, bytes: StreamQuotesResponse.encode({ streamId: "", streamEpoch: "", resumeToken: "", frame }).finish() };
    encodedUpdates.set(quote, update);
  }
  return update.bytes;
}

// Wire tags of StreamQuotesResponse's envelope fields (field number << 3 | length-delimited).
const STREAM_ID_TAG = (1 << 3) | 2;
const STREAM_EPOCH_TAG = (2 << 3) | 2;
const RESUME_TOKEN_TAG = (3 << 3) | 2;

function varintSize(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value >>>= 7;
    size += 1;
  }
  return size;
}

function writeVarint(out: Buffer, offset: number, value: number): number {
  while (value >= 0x80) {
    out[offset++] = (value & 0x7f) | 0x80;
    value >>>= 7;
  }
  out[offset++] = value;
  return offset;
}

/** A string field as protobuf writes it (tag, length, UTF-8); empty strings are left out, as ts-proto does. */
function appendStringField(out: Buffer, offset: number, tag: number, text: string, byteLength: number): number {
  if (byteLength === 0) return offset;
  out[offset++] = tag;
  offset = writeVarint(out, offset, byteLength);
  return offset + out.write(text, offset, byteLength, "utf8");
}

const stringFieldSize = (byteLength: number): number => (byteLength === 0 ? 0 : 1 + varintSize(byteLength) + byteLength);

/**
 * Encodes the UPDATE frames of one stream: the hot path of the fan-out, run for every quote and subscriber. The
 * quote's bytes are encoded once per quote and shared by every subscriber; per frame only the stream's own fields
 * (stream id, epoch, resume token) are written, straight into the one buffer the frame needs, from lengths
 * measured once per stream and epoch. It keeps no encoded bytes of its own, so ten thousand idle streams cost
 * a few small objects, not a buffer each. Field order is free in protobuf: the envelope comes first and the
 * shared `update` field after it.
 */
export class UpdateFrameEncoder {
  private readonly idLength: number;
  private epoch = -1;
  private epochText = "";
  private epochLength = 0;

  constructor(private readonly streamId: string) {
    this.idLength = Buffer.byteLength(streamId, "utf8");
  }

  encode(quote: SequencedQuote, securityId: string, epoch: number, resumeToken: string): Buffer {
    const update = encodedUpdate(quote, securityId);
    if (epoch !== this.epoch) {
      this.epoch = epoch;
      this.epochText = String(epoch);
      this.epochLength = Buffer.byteLength(this.epochText, "utf8");
    }
    const tokenLength = Buffer.byteLength(resumeToken, "utf8");
    const out = Buffer.allocUnsafe(stringFieldSize(this.idLength) + stringFieldSize(this.epochLength) + stringFieldSize(tokenLength) + update.length);
    let offset = appendStringField(out, 0, STREAM_ID_TAG, this.streamId, this.idLength);
    offset = appendStringField(out, offset, STREAM_EPOCH_TAG, this.epochText, this.epochLength);
    offset = appendStringField(out, offset, RESUME_TOKEN_TAG, resumeToken, tokenLength);
    out.set(update, offset);
    return out;
  }
}

/** One stream frame on the wire; every frame carries the stream id, the epoch and a resume token. */
export function frameToProto(
  frame: QuoteFrame,
  streamId: string,
  resumeToken: string,
  securityIdOf: (symbol: string) => string,
  nowMs: number,
): Deep<StreamQuotesResponse> {
  const envelope = { streamId, streamEpoch: String(frame.epoch), resumeToken };
  switch (frame.kind) {
    case "SNAPSHOT":
      return { ...envelope, frame: { $case: "snapshot", value: quoteToProto(frame.quote, securityIdOf(frame.symbol)) } };
    case "UPDATE":
      return { ...envelope, frame: { $case: "update", value: quoteToProto(frame.quote, securityIdOf(frame.symbol)) } };
    case "GAP":
      return { ...envelope, frame: { $case: "gap", value: { symbol: frame.symbol, fromSeq: String(frame.fromSeq), reason: GAP_REASON_TO_PROTO[frame.reason] } } };
    case "HEARTBEAT": {
      const latestSeq: Record<string, string> = {};
      for (const [symbol, seq] of frame.latestSeqBySymbol) latestSeq[symbol] = String(seq);
      return { ...envelope, frame: { $case: "heartbeat", value: { latestSeq, serverTime: new Date(nowMs) } } };
    }
    case "LAGGED":
      return { ...envelope, frame: { $case: "lagged", value: { conflatedCount: String(frame.droppedCount), symbols: [...frame.droppedBySymbol.keys()] } } };
    case "END":
      return {
        ...envelope,
        frame: {
          $case: "end",
          value: {
            reason: frame.reason === "SERVER_SHUTDOWN" ? ProtoStreamEndReason.STREAM_END_REASON_SERVER_SHUTDOWN : ProtoStreamEndReason.STREAM_END_REASON_DEADLINE,
            message: frame.reason === "SERVER_SHUTDOWN" ? "the server is shutting down; reconnect with resume_token" : "the call's deadline is near; reconnect with resume_token",
          },
        },
      };
  }
}
