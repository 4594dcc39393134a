// Reads a Server-Sent Events response the way a browser's EventSource does (fields `id`, `event`, `data`,
// comments), so tests see exactly what a browser would, including keepalive comments.
export interface SseEvent {
  id?: string;
  event: string;
  data: string;
}

export interface SseReader {
  /** The next event (comments are collected in `comments`); rejects if the stream ends first. */
  next(timeoutMs?: number): Promise<SseEvent>;
  /** Waits until at least `count` comments arrived. */
  waitForComments(count: number, timeoutMs?: number): Promise<string[]>;
  comments: string[];
  close(): Promise<void>;
}

export function readSse(response: Response): SseReader {
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  const comments: string[] = [];
  const queue: SseEvent[] = [];

  const parse = () => {
    let end = buffer.indexOf("\n\n");
    while (end >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event: SseEvent = { event: "message", data: "" };
      const data: string[] = [];
      let hasData = false;
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) {
          comments.push(line.slice(1).trim());
          continue;
        }
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "id") event.id = value;
        else if (field === "event") event.event = value;
        else if (field === "data") {
          data.push(value);
          hasData = true;
        }
      }
      if (hasData) {
        event.data = data.join("\n");
        queue.push(event);
      }
      end = buffer.indexOf("\n\n");
    }
  };

  const readUntil = async (ready: () => boolean, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while (!ready()) {
      if (Date.now() > deadline) throw new Error("nothing arrived on the event stream in time");
      const chunk = await reader.read();
      if (chunk.done) throw new Error("the event stream ended");
      buffer += decoder.decode(chunk.value, { stream: true });
      parse();
    }
  };

  return {
    comments,
    async next(timeoutMs = 5_000) {
      await readUntil(() => queue.length > 0, timeoutMs);
      return queue.shift()!;
    },
    async waitForComments(count, timeoutMs = 5_000) {
      await readUntil(() => comments.length >= count, timeoutMs);
      return comments;
    },
    async close() {
      await reader.cancel().catch(() => undefined);
    },
  };
}
