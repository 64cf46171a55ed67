/** setTimeout's limit; a later deadline is looked at again when the timer fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Deadlines for many items on one timer: items are grouped by the tick (`resolutionMs`) their
 * deadline falls in, and a single timer waits for the earliest tick. Each item costs a map entry
 * and a set entry instead of a Timeout, a closure and its context; an item fires at most one tick
 * late. `onDue` runs once per item whose deadline passed (it may `set` the item again).
 */
export class DeadlineWheel<T> {
  private readonly tickOf = new Map<T, number>();
  private readonly ticks = new Map<number, Set<T>>();
  /** A min-heap of the ticks in `ticks` (each once: an emptied tick stays until it passes). */
  private readonly heap: number[] = [];
  private timer: NodeJS.Timeout | undefined;
  private timerTick = Infinity;

  constructor(
    private readonly onDue: (item: T) => void,
    private readonly resolutionMs = 1000,
  ) {}

  get size(): number {
    return this.tickOf.size;
  }

  /** (Re)sets the item's deadline, epoch milliseconds. */
  set(item: T, atMs: number): void {
    this.delete(item);
    const tick = Math.ceil(atMs / this.resolutionMs);
    let items = this.ticks.get(tick);
    if (!items) {
      this.ticks.set(tick, (items = new Set()));
      this.push(tick);
    }
    items.add(item);
    this.tickOf.set(item, tick);
    if (tick < this.timerTick) this.arm(tick);
  }

  delete(item: T): void {
    const tick = this.tickOf.get(item);
    if (tick === undefined) return;
    this.tickOf.delete(item);
    this.ticks.get(tick)?.delete(item);
  }

  /** Stops the timer; the deadlines are forgotten. */
  clear(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.timerTick = Infinity;
    this.tickOf.clear();
    this.ticks.clear();
    this.heap.length = 0;
  }

  private arm(tick: number): void {
    clearTimeout(this.timer);
    this.timerTick = tick;
    const ms = Math.min(Math.max(tick * this.resolutionMs - Date.now(), 0), MAX_TIMER_MS);
    this.timer = setTimeout(() => this.fire(), ms);
    this.timer.unref();
  }

  private fire(): void {
    this.timer = undefined;
    this.timerTick = Infinity;
    const now = Date.now();
    while (this.heap.length > 0 && this.heap[0]! * this.resolutionMs <= now) {
      const tick = this.pop();
      const items = this.ticks.get(tick);
      this.ticks.delete(tick);
      for (const item of items ?? []) {
        this.tickOf.delete(item);
        this.onDue(item);
      }
    }
    const next = this.heap[0];
    if (next !== undefined && next < this.timerTick) this.arm(next);
  }

  private push(tick: number): void {
    const h = this.heap;
    h.push(tick);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (h[parent]! <= tick) break;
      h[i] = h[parent]!;
      i = parent;
    }
    h[i] = tick;
  }

  private pop(): number {
    const h = this.heap;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= h.length) break;
        const r = l + 1;
        const c = r < h.length && h[r]! < h[l]! ? r : l;
        if (h[c]! >= last) break;
        h[i] = h[c]!;
        i = c;
      }
      h[i] = last;
    }
    return top;
  }
}
