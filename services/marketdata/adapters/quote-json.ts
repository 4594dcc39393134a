import Decimal from "decimal.js";
import type { Quote, SequencedQuote } from "../domain/quote";

/**
 * JSON form of a quote on the bus and in the cache. Decimals travel as strings so no price ever
 * passes through a float; keys are short because every tick is encoded once per publish.
 */
interface QuoteJson {
  s: string;
  b: string;
  a: string;
  l: string;
  bs: string;
  as: string;
  ls: string;
  v: string;
  /** Exchange time, epoch ms. */
  t: number;
  /** Published at, epoch ms. */
  p: number;
  /** Seq and epoch: present in the cache; on Redis Streams they are the entry id instead. */
  q?: number;
  e?: number;
}

export function quoteToJson(quote: Quote, publishedAtMs: number, sequence?: { seq: number; epoch: number }): string {
  const json: QuoteJson = {
    s: quote.symbol,
    b: quote.bid.toString(),
    a: quote.ask.toString(),
    l: quote.last.toString(),
    bs: quote.bidSize.toString(),
    as: quote.askSize.toString(),
    ls: quote.lastSize.toString(),
    v: quote.volume.toString(),
    t: quote.exchangeTimeMs,
    p: publishedAtMs,
  };
  if (sequence) {
    json.q = sequence.seq;
    json.e = sequence.epoch;
  }
  return JSON.stringify(json);
}

export function sequencedQuoteToJson(quote: SequencedQuote): string {
  return quoteToJson(quote, quote.publishedAtMs, quote);
}

/** Decode a quote; seq and epoch come from the JSON or, for stream entries, from the caller. */
export function quoteFromJson(text: string, sequence?: { seq: number; epoch: number }): SequencedQuote {
  const json = JSON.parse(text) as QuoteJson;
  const seq = sequence?.seq ?? json.q;
  const epoch = sequence?.epoch ?? json.e;
  if (seq === undefined || epoch === undefined) throw new Error("quote JSON carries no seq/epoch");
  return {
    symbol: json.s,
    bid: new Decimal(json.b),
    ask: new Decimal(json.a),
    last: new Decimal(json.l),
    bidSize: new Decimal(json.bs),
    askSize: new Decimal(json.as),
    lastSize: new Decimal(json.ls),
    volume: new Decimal(json.v),
    exchangeTimeMs: json.t,
    publishedAtMs: json.p,
    seq,
    epoch,
  };
}
