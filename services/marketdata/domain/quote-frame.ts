import type { GapReason } from "./plan-resume";
import type { SequencedQuote } from "./quote";

/** Why a stream ended with a final frame. */
export type StreamEndReason = "SERVER_SHUTDOWN" | "CLIENT_CANCELLED";

/**
 * One frame of a quote stream, in the order the subscriber receives them. Per symbol: a SNAPSHOT
 * (or, on resume, replayed UPDATEs) comes first, then UPDATEs with seq increasing by one; a GAP is
 * always followed by a SNAPSHOT that carries the state as of the GAP's toSeq.
 */
export type QuoteFrame =
  | {
      readonly kind: "SNAPSHOT";
      readonly symbol: string;
      readonly epoch: number;
      /** Seq of the quote; 0 when the symbol has never been quoted. */
      readonly seq: number;
      readonly quote: SequencedQuote | undefined;
    }
  | { readonly kind: "UPDATE"; readonly symbol: string; readonly epoch: number; readonly seq: number; readonly quote: SequencedQuote }
  | {
      readonly kind: "GAP";
      readonly symbol: string;
      readonly epoch: number;
      /** First seq not delivered; 1 when the epoch changed. */
      readonly fromSeq: number;
      /** Last seq not delivered individually; the next SNAPSHOT has this seq. The range may be empty. */
      readonly toSeq: number;
      readonly reason: GapReason;
    }
  | {
      readonly kind: "HEARTBEAT";
      readonly epoch: number;
      /** Latest seq the producer has issued per subscribed symbol, so a silent stall is visible. */
      readonly latestSeqBySymbol: ReadonlyMap<string, number>;
      /** Token that resumes from what this stream has sent so far. */
      readonly resumeToken: string;
    }
  | {
      readonly kind: "LAGGED";
      readonly epoch: number;
      /** Updates replaced by newer ones before they could be sent, since the previous LAGGED. */
      readonly droppedCount: number;
      readonly droppedBySymbol: ReadonlyMap<string, number>;
    }
  | { readonly kind: "END"; readonly epoch: number; readonly reason: StreamEndReason; readonly resumeToken: string };
