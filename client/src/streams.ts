/**
 * Sequence bookkeeping per stream (an event's `room`): which events are new, which are
 * duplicates, and whether one is missing. The server numbers each stream's events 1, 2, 3, …;
 * live events may arrive twice (a re-delivery) or overtake a replay, so what counts is the
 * highest seq up to which nothing is missing (the watermark), not the highest seen.
 */

/** A stream heard without a watermark (through `parking_updates` or `admin`) remembers this many seqs. */
const UNTRACKED_MEMORY = 256;

export interface Verdict {
  /** False for a seq already seen: drop the event. */
  fresh: boolean;
  /** True when a seq below one already seen is still missing: ask for a replay from the watermark. */
  gap: boolean;
}

export class Streams {
  /** stream → the highest seq up to which nothing is missing: what a resume sends back. */
  readonly #watermark = new Map<string, number>();
  /** stream → seqs seen above the watermark (beyond a hole), or all recent ones of an untracked stream. */
  readonly #ahead = new Map<string, Set<number>>();

  watermark(stream: string): number | undefined {
    return this.#watermark.get(stream);
  }

  /** The seq an event carries: new or a duplicate, and whether the stream now has a hole. */
  accept(stream: string, seq: number): Verdict {
    const ahead = this.#aheadOf(stream);
    const mark = this.#watermark.get(stream);
    if ((mark !== undefined && seq <= mark) || ahead.has(seq)) return { fresh: false, gap: false };
    ahead.add(seq);
    if (mark === undefined) {
      if (ahead.size > UNTRACKED_MEMORY) ahead.delete(Math.min(...ahead));
      return { fresh: true, gap: false };
    }
    this.#advance(stream, mark);
    return { fresh: true, gap: this.hasGap(stream) };
  }

  hasGap(stream: string): boolean {
    return this.#watermark.has(stream) && (this.#ahead.get(stream)?.size ?? 0) > 0;
  }

  /**
   * The stream's state is known up to `seq` (a snapshot, or a subscribe's answer): track it from
   * there. Seqs already seen above it stay seen; a lower seq than before is a reset database.
   */
  reset(stream: string, seq: number): void {
    const ahead = this.#aheadOf(stream);
    for (const s of ahead) if (s <= seq) ahead.delete(s);
    this.#advance(stream, seq);
  }

  /** Stops tracking a stream (unsubscribed, or another user's). */
  forget(stream: string): void {
    this.#watermark.delete(stream);
    this.#ahead.delete(stream);
  }

  clear(): void {
    this.#watermark.clear();
    this.#ahead.clear();
  }

  #aheadOf(stream: string): Set<number> {
    let ahead = this.#ahead.get(stream);
    if (!ahead) this.#ahead.set(stream, (ahead = new Set()));
    return ahead;
  }

  /** Moves the watermark over the contiguous run that starts right after `from`. */
  #advance(stream: string, from: number): void {
    const ahead = this.#aheadOf(stream);
    let upTo = from;
    while (ahead.delete(upTo + 1)) upTo++;
    this.#watermark.set(stream, upTo);
  }
}
