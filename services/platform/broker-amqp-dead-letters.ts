// Dead letter administration on RabbitMQ: reading a work queue's dead letters without consuming them, and moving one
// back into its queue as a first attempt again. Each call runs on a channel of its own that the broker opens and closes.
import type { Channel, ConfirmChannel } from "amqplib";
import { deadLetterQueueName, FAILURE_HEADERS, HEADER, toDeadLetter, type DeadLetter } from "./broker-topology";
import { confirmPublish, copyHeaders, copyProperties, messageFields, withTimeout } from "./broker-amqp-channel";

/** Dead letters examined at most by one `readDeadLetters` or `republishDeadLetter` call, to bound its work. */
const MAX_DEAD_LETTER_SCAN = 10_000;

/** Up to `limit` dead letters of work queue `queue`, oldest first; all of them stay in the dead letter queue. */
export async function readDeadLetters(channel: Channel, queue: string, limit: number): Promise<DeadLetter[]> {
  const dlq = deadLetterQueueName(queue);
  if (!(await queueExists(channel, dlq))) return [];
  const letters: DeadLetter[] = [];
  try {
    while (letters.length < Math.min(limit, MAX_DEAD_LETTER_SCAN)) {
      const message = await channel.get(dlq, { noAck: false });
      if (message === false) break;
      letters.push(toDeadLetter(queue, messageFields(message)));
    }
  } finally {
    // Reading is not consuming: everything goes back to the queue.
    channel.nackAll(true);
  }
  return letters;
}

/** Moves dead letter `messageId` back into work queue `queue`; false when there is no such dead letter. */
export async function republishDeadLetter(
  channel: ConfirmChannel,
  queue: string,
  messageId: string,
  publishTimeoutMs: number,
): Promise<boolean> {
  const dlq = deadLetterQueueName(queue);
  if (!(await queueExists(channel, dlq))) return false;
  try {
    for (let scanned = 0; scanned < MAX_DEAD_LETTER_SCAN; scanned++) {
      const message = await channel.get(dlq, { noAck: false });
      if (message === false) return false;
      if (message.properties.messageId !== messageId) continue;
      const headers = copyHeaders(message);
      for (const name of [...FAILURE_HEADERS, HEADER.attempt]) delete headers[name];
      await withTimeout(publishTimeoutMs, `republish of ${messageId} not confirmed`, () =>
        confirmPublish(channel, "", queue, message.content, { ...copyProperties(message), headers }),
      );
      channel.ack(message);
      return true;
    }
    return false;
  } finally {
    channel.nackAll(true);
  }
}

/** True when `queue` exists. A missing queue also closes `channel` (passive declare), so callers stop there. */
async function queueExists(channel: Channel, queue: string): Promise<boolean> {
  try {
    await channel.checkQueue(queue);
    return true;
  } catch {
    return false;
  }
}
