// Frame coalescing for the RabbitMQ broker's connections: amqplib writes each frame with a `write` of its own, and
// with Nagle's algorithm off (see createAmqpBroker) that would be a packet per frame. Applied on every (re)connect.
import type { ChannelModel } from "amqplib";

/**
 * amqplib's muxer writes the frames its channels queued (publishes, acks) one `write` at a time when it runs, once
 * per event loop turn. Corking the socket around that run hands them to the kernel as one write: one packet instead
 * of one per frame, which is most of what a frame costs on loopback, without Nagle's waiting. Relies on amqplib's
 * muxer (`connection.muxer._readIncoming`, `out`); if a later amqplib lacks them, frames are simply written one by one.
 */
export function coalesceFrameWrites(model: ChannelModel): void {
  const muxer = (model as unknown as { connection?: { muxer?: MuxerInternals } }).connection?.muxer;
  if (muxer === undefined || typeof muxer._readIncoming !== "function" || typeof muxer.out?.cork !== "function") return;
  const readIncoming = muxer._readIncoming.bind(muxer);
  const out = muxer.out;
  muxer._readIncoming = () => {
    out.cork();
    try {
      readIncoming();
    } finally {
      out.uncork();
    }
  };
}

interface MuxerInternals {
  _readIncoming(): void;
  out?: { cork(): void; uncork(): void };
}
