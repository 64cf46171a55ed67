/**
 * The state the client keeps from what the server sends: lots' availability, the signed-in
 * user's bookings, their payments and waitlist entries. Each is a Readable of a map that is replaced on change.
 */
import type { BookingView, LotAvailability, PaymentUpdatedPayload } from '../../server/contract/payloads.js';
import { rooms } from '../../server/contract/rooms.js';
import type { WaitlistEntryView, WaitlistUpdatedPayload } from '../../server/contract/waitlist.js';
import { Observable } from './store.js';

/** Availability per lot id: newest by the lot stream's seq, so a late replay never undoes a newer event. */
export class LotsStore extends Observable<ReadonlyMap<string, LotAvailability>> {
  readonly #seq = new Map<string, number>();
  /** Counts live changes; a lot's entry says at which count it last changed live. */
  #clock = 0;
  readonly #liveAt = new Map<string, number>();

  constructor() {
    super(new Map());
  }

  /** One `parking_updated` (already known to be new): applied unless an event with a higher seq was. */
  applyEvent(lot: LotAvailability & { seq?: number | undefined }): void {
    const id = lot.parking_lot_id;
    if (lot.seq !== undefined && lot.seq <= (this.#seq.get(id) ?? 0)) return;
    if (lot.seq !== undefined) this.#seq.set(id, lot.seq);
    this.#liveAt.set(id, ++this.#clock);
    this.#put([toLot(lot)]);
  }

  /** A room snapshot: the state as of `seq` in the lot's stream (0 for `parking_updates`, which spans streams). */
  applySnapshot(lots: LotAvailability[], seq: number, perLotStream: boolean): void {
    for (const lot of lots) if (perLotStream || !this.#seq.has(lot.parking_lot_id)) this.#seq.set(lot.parking_lot_id, seq);
    this.#put(lots.map(toLot));
  }

  /** Marks the moment a query is asked; pass it to `applyQuery` with the answer. */
  now(): number {
    return this.#clock;
  }

  /** An answer to get_parking_availability (no seq): a lot that changed live since it was asked keeps the live value. */
  applyQuery(lots: LotAvailability[], askedAt: number): void {
    this.#put(lots.filter((l) => (this.#liveAt.get(l.parking_lot_id) ?? 0) <= askedAt).map(toLot));
  }

  #put(lots: LotAvailability[]): void {
    if (lots.length === 0) return;
    const next = new Map(this.get());
    for (const lot of lots) next.set(lot.parking_lot_id, lot);
    this.set(next);
  }
}

/** The fields of LotAvailability only: events also carry action, seq and the like. */
function toLot(l: LotAvailability): LotAvailability {
  return {
    id: l.id,
    parking_lot_id: l.parking_lot_id,
    name: l.name,
    total_spaces: l.total_spaces,
    out_of_service: l.out_of_service,
    occupied_unbooked: l.occupied_unbooked,
    held: l.held,
    available_spaces: l.available_spaces,
    is_open: l.is_open,
    updated_at: l.updated_at,
  };
}

/** The signed-in user's bookings by id; of two versions of a booking the later `updated_at` wins. */
export class BookingsStore extends Observable<ReadonlyMap<string, BookingView>> {
  #userId: string | undefined;
  readonly loaded = new Observable(false);

  constructor() {
    super(new Map());
  }

  /** Whose bookings these are; another user's are ignored (an admin hears everybody's). */
  setUser(userId: string | undefined): void {
    if (userId === this.#userId) return;
    this.#userId = userId;
    this.set(new Map());
    this.loaded.set(false);
  }

  upsert(...bookings: BookingView[]): void {
    let next: Map<string, BookingView> | undefined;
    for (const b of bookings) {
      if (b.user_id !== this.#userId) continue;
      const have = (next ?? this.get()).get(b.id);
      if (have && Date.parse(have.updated_at) > Date.parse(b.updated_at)) continue;
      next ??= new Map(this.get());
      next.set(b.id, b);
    }
    if (next) this.set(next);
  }

  /** The user room's snapshot: the list as it is now. */
  replace(bookings: BookingView[]): void {
    this.set(new Map(bookings.filter((b) => b.user_id === this.#userId).map((b) => [b.id, b])));
    this.loaded.set(true);
  }
}

/** The latest payment event per booking id, of the signed-in user's bookings. */
export class PaymentsStore extends Observable<ReadonlyMap<string, PaymentUpdatedPayload>> {
  constructor() {
    super(new Map());
  }

  apply(p: PaymentUpdatedPayload, userId: string | undefined): void {
    if (userId === undefined || p.room !== rooms.user(userId)) return;
    const have = this.get().get(p.booking_id);
    if (have && have.room === p.room && have.seq > p.seq) return;
    this.set(new Map(this.get()).set(p.booking_id, p));
  }

  clear(): void {
    this.set(new Map());
  }
}

/** The signed-in user's waitlist entries by id, newest by their stream's seq (an admin hears everybody's: ignored). */
export class WaitlistStore extends Observable<ReadonlyMap<string, WaitlistEntryView>> {
  readonly #seq = new Map<string, number>();

  constructor() {
    super(new Map());
  }

  apply(p: WaitlistUpdatedPayload, userId: string | undefined): void {
    if (userId === undefined || p.room !== rooms.user(userId)) return;
    if (p.seq <= (this.#seq.get(p.entry_id) ?? 0)) return;
    this.#seq.set(p.entry_id, p.seq);
    this.set(new Map(this.get()).set(p.entry_id, p.entry));
  }

  clear(): void {
    this.#seq.clear();
    this.set(new Map());
  }
}
