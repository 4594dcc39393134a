interface Node<T> {
  item: T;
  /** Older updates of the same symbol this entry replaced while unsent. */
  droppedBefore: number;
  previous: Node<T> | undefined;
  next: Node<T> | undefined;
}

/** An update taken from the buffer, with how many older updates of its symbol it replaced. */
export interface BufferedEntry<T> {
  readonly item: T;
  readonly droppedBefore: number;
}

/**
 * A subscriber's bounded queue of unsent updates. While there is room every update is kept, so a
 * briefly slow client loses nothing. When it is full, a newer update for a symbol replaces the newest
 * unsent one for that symbol in place (its place in the queue is kept, so a busy symbol cannot push
 * quiet ones back), and the entry remembers how many updates it replaced, so the subscriber can be
 * told exactly where its seqs jump.
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
  /**
   * Updates given up with no newer entry of their symbol left to carry the count. Created on the first such drop
   * (only when symbols outnumber capacity), so an idle stream does not hold an empty map.
   */
  private orphanDrops: Map<string, number> | undefined;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
  }

  get size(): number {
    return this.count;
  }

  /** Queue an update, conflating when the queue is full. */
  push(item: T): void {
    if (this.count < this.capacity) {
      this.append(item, 0);
      return;
    }
    const newest = this.newestBySymbol.get(item.symbol);
    if (newest) {
      newest.item = item;
      newest.droppedBefore += 1;
      return;
    }
    // Full, and nothing of this symbol queued: first fold every symbol down to its newest update,
    // and only if that frees nothing (more symbols than capacity) give up the oldest entry.
    this.compact();
    if (this.count >= this.capacity) {
      const oldest = this.head!;
      this.unlink(oldest);
      const symbol = oldest.item.symbol;
      this.orphanDrops ??= new Map();
      this.orphanDrops.set(symbol, (this.orphanDrops.get(symbol) ?? 0) + oldest.droppedBefore + 1);
    }
    this.append(item, 0);
  }

  /** Take the oldest unsent update. */
  shift(): BufferedEntry<T> | undefined {
    const node = this.head;
    if (!node) return undefined;
    this.unlink(node);
    return { item: node.item, droppedBefore: node.droppedBefore };
  }

  /** Forget every unsent update of a symbol (it was unsubscribed or resynced); this is not a drop. */
  removeSymbol(symbol: string): void {
    for (let node = this.head; node; ) {
      const next = node.next;
      if (node.item.symbol === symbol) this.unlink(node);
      node = next;
    }
    this.orphanDrops?.delete(symbol);
  }

  /** Drops that no queued entry carries (only when symbols outnumber capacity); reset on read. */
  takeOrphanDrops(): ReadonlyMap<string, number> | undefined {
    const drops = this.orphanDrops;
    if (drops === undefined || drops.size === 0) return undefined;
    this.orphanDrops = undefined;
    return drops;
  }

  private compact(): void {
    for (let node = this.head; node; ) {
      const next = node.next;
      const newest = this.newestBySymbol.get(node.item.symbol)!;
      if (newest !== node) {
        newest.droppedBefore += node.droppedBefore + 1;
        this.unlink(node);
      }
      node = next;
    }
  }

  private append(item: T, droppedBefore: number): void {
    const node: Node<T> = { item, droppedBefore, previous: this.tail, next: undefined };
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
    const previous = node.previous;
    // A taken node must not keep its former neighbours alive.
    node.previous = undefined;
    node.next = undefined;
    if (this.newestBySymbol.get(node.item.symbol) === node) {
      // The newest of this symbol is leaving; an older one still queued (if any) becomes the newest.
      let older = previous;
      while (older && older.item.symbol !== node.item.symbol) older = older.previous;
      if (older) this.newestBySymbol.set(node.item.symbol, older);
      else this.newestBySymbol.delete(node.item.symbol);
    }
  }
}
