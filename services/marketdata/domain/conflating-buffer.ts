interface Node<T> {
  item: T;
  previous: Node<T> | undefined;
  next: Node<T> | undefined;
}

/** Updates that were replaced by newer ones before they could be sent, since the last report. */
export interface DroppedReport {
  readonly total: number;
  readonly bySymbol: ReadonlyMap<string, number>;
}

/**
 * A subscriber's bounded queue of unsent updates. While there is room every update is kept, so a
 * briefly slow client loses nothing. When it is full, a newer update for a symbol replaces the newest
 * unsent one for that symbol in place (its place in the queue is kept, so a busy symbol cannot push
 * quiet ones back), and the replaced update is counted so the subscriber can be told it lagged.
 *
 * Memory is bounded by `capacity` entries whatever the consumer does. With capacity at least the
 * number of subscribed symbols, the newest update of every symbol is always kept.
 */
export class ConflatingBuffer<T extends { readonly symbol: string }> {
  private head: Node<T> | undefined;
  private tail: Node<T> | undefined;
  private count = 0;
  /** Newest unsent node per symbol, the one a conflating push replaces. */
  private readonly newestBySymbol = new Map<string, Node<T>>();
  private droppedTotal = 0;
  private readonly droppedBySymbol = new Map<string, number>();

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
  }

  get size(): number {
    return this.count;
  }

  /** Updates dropped since the last `takeDroppedReport`. */
  get droppedCount(): number {
    return this.droppedTotal;
  }

  /** Queue an update, conflating when the queue is full. */
  push(item: T): void {
    if (this.count < this.capacity) {
      this.append(item);
      return;
    }
    const newest = this.newestBySymbol.get(item.symbol);
    if (newest) {
      this.countDropped(newest.item.symbol);
      newest.item = item;
      return;
    }
    // Full, and nothing of this symbol queued: first fold every symbol down to its newest update,
    // and only if that frees nothing (more symbols than capacity) give up the oldest entry.
    this.compact();
    if (this.count >= this.capacity) {
      const oldest = this.head!;
      this.countDropped(oldest.item.symbol);
      this.unlink(oldest);
    }
    this.append(item);
  }

  /** Take the oldest unsent update. */
  shift(): T | undefined {
    const node = this.head;
    if (!node) return undefined;
    this.unlink(node);
    return node.item;
  }

  /** Forget every unsent update of a symbol (it was unsubscribed); this is not a drop. */
  removeSymbol(symbol: string): void {
    for (let node = this.head; node; ) {
      const next = node.next;
      if (node.item.symbol === symbol) this.unlink(node);
      node = next;
    }
    this.droppedBySymbol.delete(symbol);
  }

  /** Report and reset the drop counters; undefined when nothing was dropped. */
  takeDroppedReport(): DroppedReport | undefined {
    if (this.droppedTotal === 0) return undefined;
    const report = { total: this.droppedTotal, bySymbol: new Map(this.droppedBySymbol) };
    this.droppedTotal = 0;
    this.droppedBySymbol.clear();
    return report;
  }

  private compact(): void {
    for (let node = this.head; node; ) {
      const next = node.next;
      if (this.newestBySymbol.get(node.item.symbol) !== node) {
        this.countDropped(node.item.symbol);
        this.unlink(node);
      }
      node = next;
    }
  }

  private countDropped(symbol: string): void {
    this.droppedTotal += 1;
    this.droppedBySymbol.set(symbol, (this.droppedBySymbol.get(symbol) ?? 0) + 1);
  }

  private append(item: T): void {
    const node: Node<T> = { item, previous: this.tail, next: undefined };
    if (this.tail) this.tail.next = node;
    else this.head = node;
    this.tail = node;
    this.count += 1;
    this.newestBySymbol.set(item.symbol, node);
  }

  private unlink(node: Node<T>): void {
    if (node.previous) node.previous.next = node.next;
    else this.head = node.next;
    if (node.next) node.next.previous = node.previous;
    else this.tail = node.previous;
    this.count -= 1;
    if (this.newestBySymbol.get(node.item.symbol) === node) {
      // The newest of this symbol is leaving; an older one still queued (if any) becomes the newest.
      let older = node.previous;
      while (older && older.item.symbol !== node.item.symbol) older = older.previous;
      if (older) this.newestBySymbol.set(node.item.symbol, older);
      else this.newestBySymbol.delete(node.item.symbol);
    }
  }
}
