import type { ResumePosition } from "./resume-token";

/** Why a subscriber gets a GAP instead of the individual updates it missed. */
export type GapReason =
  /** The producer's sequence space restarted; old seqs mean nothing. */
  | "EPOCH_CHANGED"
  /** The replay buffer no longer holds the missed updates (count or age retention). */
  | "BUFFER_EXPIRED"
  /** More updates were missed than one resume may replay; a snapshot is cheaper. */
  | "REPLAY_LIMIT"
  /** The token claims seqs the producer never issued. */
  | "TOKEN_AHEAD"
  /** The quote bus lost a message between producer and this server. */
  | "BUS_GAP";

/** What a (re)subscribing stream must send first for one symbol. */
export type ResumeStep =
  /** New to this subscriber: send a SNAPSHOT. */
  | { readonly kind: "SNAPSHOT"; readonly symbol: string }
  /** The subscriber already has everything up to `seq`: send nothing. */
  | { readonly kind: "UP_TO_DATE"; readonly symbol: string; readonly seq: number }
  /** Replay updates fromSeq..toSeq from the buffer (if they are still there). */
  | { readonly kind: "REPLAY"; readonly symbol: string; readonly fromSeq: number; readonly toSeq: number }
  /** Send GAP then a fresh SNAPSHOT; `lastSeenSeq` is what the token said the subscriber had. */
  | { readonly kind: "GAP"; readonly symbol: string; readonly lastSeenSeq: number; readonly reason: GapReason };

export interface ResumePlanInput {
  readonly symbols: readonly string[];
  readonly position: ResumePosition | undefined;
  readonly currentEpoch: number;
  /** Latest seq per symbol at the moment the subscription was registered. */
  readonly latestSeq: (symbol: string) => number;
  /** Above this many missed updates for a symbol, send a snapshot instead of replaying. */
  readonly maxReplayPerSymbol: number;
}

/**
 * Decide, per symbol, how a stream catches a subscriber up. Only the arithmetic lives here; whether
 * a REPLAY's updates are still retained is known only when the buffer is read, and a miss there
 * becomes a GAP with BUFFER_EXPIRED.
 */
export function planResume(input: ResumePlanInput): ResumeStep[] {
  return input.symbols.map((symbol): ResumeStep => {
    const lastSeen = input.position?.seqBySymbol.get(symbol);
    if (input.position === undefined || lastSeen === undefined) return { kind: "SNAPSHOT", symbol };
    if (input.position.epoch !== input.currentEpoch) return { kind: "GAP", symbol, lastSeenSeq: lastSeen, reason: "EPOCH_CHANGED" };
    const latest = input.latestSeq(symbol);
    if (lastSeen > latest) return { kind: "GAP", symbol, lastSeenSeq: lastSeen, reason: "TOKEN_AHEAD" };
    if (lastSeen === latest) return { kind: "UP_TO_DATE", symbol, seq: latest };
    if (latest - lastSeen > input.maxReplayPerSymbol) return { kind: "GAP", symbol, lastSeenSeq: lastSeen, reason: "REPLAY_LIMIT" };
    return { kind: "REPLAY", symbol, fromSeq: lastSeen + 1, toSeq: latest };
  });
}
