/**
 * What one soak client holds of each stream it follows, as a client that applies events by seq
 * would: the last seq up to which it has everything, and the later ones it already has. After a
 * resume the server joins the room before it reads the missed events, so a live event may come
 * before the replay that precedes it: that is counted as out of order, not as lost. An event it
 * already had is a duplicate; what it never gets by the end is lost.
 */
export interface Delivered {
  room: string;
  seq: number;
}

interface Stream {
  /** Every event up to this seq is here. */
  upTo: number;
  /** Events past upTo that came early. */
  early: Set<number>;
}

export class SoakTracker {
  delivered = 0;
  duplicates = 0;
  outOfOrder = 0;
  snapshots = 0;
  /** A subscribe of its last resume was refused for good: until it resumes again, it misses events. */
  unsubscribed = false;
  readonly errors: Record<string, number> = {};
  private readonly streams = new Map<string, Stream>();

  /** `heads`: each stream's seq when the client subscribed (it is owed everything after). */
  constructor(heads: ReadonlyMap<string, number>, streams: readonly string[]) {
    for (const s of streams) this.streams.set(s, { upTo: heads.get(s) ?? 0, early: new Set() });
  }

  lastSeq(stream: string): number | undefined {
    return this.streams.get(stream)?.upTo;
  }

  deliver(p: Delivered): void {
    this.delivered++;
    const s = this.streams.get(p.room);
    if (!s) return void this.error(`event of a stream it does not follow: ${p.room}`);
    if (p.seq <= s.upTo || s.early.has(p.seq)) this.duplicates++;
    else if (p.seq === s.upTo + 1) {
      s.upTo++;
      while (s.early.delete(s.upTo + 1)) s.upTo++;
    } else {
      s.early.add(p.seq);
      this.outOfOrder++;
    }
  }

  snapshot(room: string, seq: number): void {
    this.snapshots++;
    const s = this.streams.get(room);
    if (!s || seq <= s.upTo) return;
    s.upTo = seq;
    for (const e of s.early) if (e <= seq) s.early.delete(e);
    while (s.early.delete(s.upTo + 1)) s.upTo++;
  }

  error(what: string): void {
    this.errors[what] = (this.errors[what] ?? 0) + 1;
  }

  /** Events up to each stream's head that it never got. */
  lost(heads: ReadonlyMap<string, number>): number {
    let n = 0;
    for (const [stream, s] of this.streams) {
      const head = heads.get(stream) ?? 0;
      if (head > s.upTo) n += head - s.upTo - [...s.early].filter((e) => e <= head).length;
    }
    return n;
  }
}
