import type { GapReason } from "./plan-resume";
import type { SequencedQuote } from "./quote";

/** Why the server ended a stream with a final frame. */
export type StreamEndReason = "SERVER_SHUTDOWN" | "DEADLINE";

/**
 * One frame of a quote stream, in the order the subscriber receives them. Per symbol: a SNAPSHOT
 * (or, on resume, replayed UPDATEs) comes first, then UPDATEs with seq increasing by one; a seq jump
 * is always announced by a LAGGED or GAP frame first, and a GAP is followed by a SNAPSHOT.
 */
export type QuoteFrame =
  | { readonly kind: "SNAPSHOT"; readonly symbol: string; readonly epoch: number; readonly seq: number; readonly quote: SequencedQuote }
  | { readonly kind: "UPDATE"; readonly symbol: string; readonly epoch: number; readonly seq: number; readonly quote: SequencedQuote }
  | {
      readonly kind: "GAP";
      readonly symbol: string;
      readonly epoch: number;
      /** First seq that will not be delivered individually: the subscriber's last seq + 1. */
      readonly fromSeq: number;
      readonly reason: GapReason;
    }
  | {
      readonly kind: "HEARTBEAT";
      readonly epoch: number;
      /** Latest seq sent on this stream per symbol (0 if none yet), so a quiet stream differs from a dead one. */
      readonly latestSeqBySymbol: ReadonlyMap<string, number>;
    }
  | {
      readonly kind: "LAGGED";
      readonly epoch: number;
      /** Updates replaced by newer ones before they could be sent, since the previous LAGGED. */
      readonly droppedCount: number;
      readonly droppedBySymbol: ReadonlyMap<string, number>;
    }
  | { readonly kind: "END"; readonly epoch: number; readonly reason: StreamEndReason };
