/**
 * The load-generating side of the city workload (scripts/bench/city.ts), mounted by load-client.ts:
 * each socket of a group picks its lots (1–3, and `parking_updates` for a share of them) from a
 * seeded generator, and the bookers book random lots at a steady rate, cancelling some of the
 * bookings a moment later. City sockets record parking_updated by stream and seq, so that every
 * event is told apart and a second copy on a socket is counted as a duplicate.
 */
import type { Socket } from 'socket.io-client';
import { wallNow } from './lib/ipc.js';

interface Group {
  sockets: Socket[];
}

/** A small seeded generator (mulberry32): the same seed picks the same subscriptions. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Note = (key: string, stamp: unknown, socket: number) => void;

/** City sockets key parking_updated by `stream#seq` (spotcast) or the bare server's own seq. */
export function listenBySeq(socket: Socket, n: number, note: Note): void {
  socket.on('parking_updated', (p: { room: string; seq: number; timestamp?: string }) => note(`city|${p.room}#${p.seq}`, p.timestamp, n));
}

export function cityHandlers(mustGroup: (name: string) => Group) {
  return {
    /**
     * Subscribes every socket of the group to 1–3 random lots, and `parking_updates` with
     * probability `share`. Returns, per lot, how many of these sockets must get its events (those
     * in its room or in parking_updates, each once).
     */
    async citySubscribe(args: { group: string; lots: string[]; share: number; seed: number; concurrency?: number }) {
      const group = mustGroup(args.group);
      const random = seeded(args.seed);
      const plans = group.sockets.map(() => {
        const lots = new Set<string>();
        const want = 1 + Math.floor(random() * 3);
        while (lots.size < Math.min(want, args.lots.length)) lots.add(args.lots[Math.floor(random() * args.lots.length)]!);
        return { lots: [...lots], all: random() < args.share };
      });
      const reach: Record<string, number> = Object.fromEntries(args.lots.map((l) => [l, 0]));
      let everyLot = 0;
      for (const p of plans) {
        if (p.all) everyLot++;
        else for (const l of p.lots) reach[l]!++;
      }
      for (const l of args.lots) reach[l]! += everyLot;
      let failed = 0;
      const errors: Record<string, number> = {};
      let next = 0;
      const worker = async () => {
        while (next < plans.length) {
          const i = next++;
          const rooms = [...plans[i]!.lots.map((l) => `parking_lot:${l}`), ...(plans[i]!.all ? ['parking_updates'] : [])];
          for (const room of rooms) {
            let answer: { ok: boolean; error?: { code: string } } = { ok: false };
            // A few tries: on a machine shared with other jobs, Postgres may refuse a connection for a moment.
            for (let attempt = 0; attempt < 3 && !answer.ok; attempt++) {
              if (attempt > 0) await sleep(1000);
              answer = (await group.sockets[i]!.timeout(60_000)
                .emitWithAck('subscribe', { room })
                .catch((e: unknown) => ({ ok: false, error: { code: String(e) } }))) as { ok: boolean; error?: { code: string } };
            }
            if (!answer.ok) {
              failed++;
              errors[answer.error?.code ?? 'unknown'] = (errors[answer.error?.code ?? 'unknown'] ?? 0) + 1;
            }
          }
        }
      };
      await Promise.all(Array.from({ length: args.concurrency ?? 50 }, worker));
      return { reach, failed, errors, subscriptions: plans.reduce((s, p) => s + p.lots.length + (p.all ? 1 : 0), 0) };
    },

    /**
     * For `seconds`, `rate` create_booking calls a second on random lots (round-robin over the
     * group's sockets, not waiting for acks); every other booking made is cancelled ~1 s later.
     * Returns the committed changes per lot (each one parking_updated).
     */
    async cityBook(args: { group: string; lots: string[]; rate: number; seconds: number; seed: number }) {
      const group = mustGroup(args.group);
      const random = seeded(args.seed);
      const changes: Record<string, number> = {};
      const codes: Record<string, number> = {};
      const count = Math.round(args.rate * args.seconds);
      const start = wallNow();
      const work: Promise<void>[] = [];
      for (let i = 0; i < count; i++) {
        const wait = start + (i * 1000) / args.rate - wallNow();
        if (wait > 1) await sleep(wait);
        const lot = args.lots[Math.floor(random() * args.lots.length)]!;
        const s = group.sockets[i % group.sockets.length]!;
        const cancel = i % 2 === 1;
        work.push(
          (async () => {
            const a = (await s.timeout(60_000).emitWithAck('create_booking', { parking_lot_id: lot, duration_minutes: 60 }).catch(() => ({ ok: false, error: { code: 'TIMEOUT' } }))) as {
              ok: boolean;
              data?: { booking: { id: string } };
              error?: { code: string };
            };
            if (!a.ok) return void (codes[a.error?.code ?? 'unknown'] = (codes[a.error?.code ?? 'unknown'] ?? 0) + 1);
            changes[lot] = (changes[lot] ?? 0) + 1;
            if (!cancel) return;
            await sleep(1000);
            const c = (await s.timeout(60_000).emitWithAck('cancel_booking', { booking_id: a.data!.booking.id }).catch(() => ({ ok: false }))) as { ok: boolean; error?: { code: string } };
            if (c.ok) changes[lot] = (changes[lot] ?? 0) + 1;
            else codes[`cancel ${c.error?.code ?? 'TIMEOUT'}`] = (codes[`cancel ${c.error?.code ?? 'TIMEOUT'}`] ?? 0) + 1;
          })(),
        );
      }
      await Promise.all(work);
      return { changes, codes, ms: wallNow() - start };
    },
  };
}
