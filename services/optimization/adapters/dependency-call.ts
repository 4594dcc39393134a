// One rule for every call to a peer service: a refusal the peer names (NOT_FOUND and the like) is the caller's
// business, anything that means "could not reach it" becomes DEPENDENCY_UNAVAILABLE, which clients may retry.
import { ClientError, Status } from "nice-grpc";
import { unavailable } from "../../platform/errors";

const UNREACHABLE = new Set([Status.UNAVAILABLE, Status.DEADLINE_EXCEEDED, Status.UNKNOWN, Status.INTERNAL, Status.UNIMPLEMENTED, Status.CANCELLED]);

/** Runs a peer call; unreachable peers become UNAVAILABLE DEPENDENCY_UNAVAILABLE naming the peer. */
export async function callPeer<T>(peer: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof ClientError && !UNREACHABLE.has(error.code)) throw error;
    throw unavailable("DEPENDENCY_UNAVAILABLE", `${peer} is not available right now`, { metadata: { dependency: peer }, cause: error, retryAfterMs: 1_000 });
  }
}
