// An incremental Server-Sent Events parser (the WHATWG event-stream grammar): feed it text as it arrives, get
// complete events back. The fetch transport needs it because it reads the stream itself (to send Authorization
// and Last-Event-ID headers, which EventSource cannot).

/** One event of an event stream. */
export interface ServerSentEvent {
  /** The `id:` field, when the event had one. */
  id?: string;
  /** The `event:` field; "message" when absent. */
  event: string;
  data: string;
}

/** Parses chunks of an event stream into events; comments (keepalives) are dropped. */
export class SseParser {
  private buffer = "";
  private data: string[] = [];
  private event = "";
  private id: string | undefined;
  private hasId = false;
  /** The `retry:` hint in milliseconds, once the server sent one. */
  retryMs: number | undefined;

  /** Adds text and returns the events it completed. */
  push(text: string): ServerSentEvent[] {
    this.buffer += text;
    const events: ServerSentEvent[] = [];
    let newline = this.buffer.search(/\r\n|\r|\n/);
    while (newline >= 0) {
      const line = this.buffer.slice(0, newline);
      const width = this.buffer.startsWith("\r\n", newline) ? 2 : 1;
      this.buffer = this.buffer.slice(newline + width);
      const event = this.line(line);
      if (event !== undefined) events.push(event);
      newline = this.buffer.search(/\r\n|\r|\n/);
    }
    return events;
  }

  private line(line: string): ServerSentEvent | undefined {
    if (line === "") {
      if (this.data.length === 0) {
        this.event = "";
        return undefined;
      }
      const event: ServerSentEvent = { event: this.event || "message", data: this.data.join("\n") };
      if (this.hasId) event.id = this.id;
      this.data = [];
      this.event = "";
      this.hasId = false;
      return event;
    }
    if (line.startsWith(":")) return undefined;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") this.data.push(value);
    else if (field === "event") this.event = value;
    else if (field === "id" && !value.includes("\0")) {
      this.id = value;
      this.hasId = true;
    } else if (field === "retry" && /^\d+$/.test(value)) this.retryMs = Number(value);
    return undefined;
  }
}
