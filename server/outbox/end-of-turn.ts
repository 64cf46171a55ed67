/**
 * Collects what is emitted during one event-loop turn and hands it over in one go at the turn's
 * end (setImmediate, after the I/O callbacks that produced it). Emits made back to back reach each
 * WebSocket in one write (see ws-write-batching.ts) instead of one write per emit; the delay is
 * the rest of the current turn, not a timer.
 */
export class EndOfTurnQueue<T> {
  private items: T[] = [];
  private scheduled: NodeJS.Immediate | undefined;

  constructor(private readonly flush: (items: T[]) => void) {}

  push(...items: T[]): void {
    if (items.length === 0) return;
    this.items.push(...items);
    this.scheduled ??= setImmediate(() => this.drain());
  }

  /** Hands over what is queued now (at shutdown, before the sockets close). */
  drain(): void {
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    const items = this.items.splice(0);
    if (items.length > 0) this.flush(items);
  }
}
