/**
 * A client that follows one room's stream by sequence number the way a careful frontend does, and
 * can move to another node, resuming with the last seq it saw.
 */
import { io, type Socket } from 'socket.io-client';
import { tracked, untrack } from './clients.js';
import { withTimeout } from './measure.js';

export interface Resumed {
  rooms: { room: string; replayed: number; snapshot: boolean; seq: number }[];
  failed: { room: string; code: string; message: string }[];
}

/**
 * A client that follows one room's stream (`parking_updated` of `parking_lot:<id>`) the way a
 * careful frontend does: it drops events whose seq it has seen, keeps what it got by seq, and on a
 * new connection (to any node) says the last seq it saw so the server replays what it missed.
 */
export class StreamClient {
  socket: Socket | undefined;
  /** seq → first payload seen with it. */
  readonly bySeq = new Map<number, any>();
  /** Seqs in the order they first arrived (duplicates dropped). */
  readonly order: number[] = [];
  /** Every arrival, duplicates included. */
  arrivals = 0;
  readonly snapshots: any[] = [];
  /** The newest seq the client may consider itself up to date with (raised by snapshots too). */
  private head = 0;
  /** Called on every disconnect of the current socket (reason). */
  onDisconnect: ((reason: string) => void) | undefined;
  nodeUrl: string | undefined;
  disconnects: string[] = [];

  constructor(
    readonly token: string,
    readonly room: string,
    readonly label = room,
  ) {}

  /** The last seq such that every seq up to it was received (what a client should resume from). */
  lastContiguous(): number {
    let s = this.head;
    while (this.bySeq.has(s + 1)) s++;
    return s;
  }

  maxSeq(): number {
    return Math.max(this.head, ...this.bySeq.keys());
  }

  has(seq: number): boolean {
    return this.bySeq.has(seq) || seq <= this.head;
  }

  /** The seqs of `expected` this client has not seen. */
  missing(expected: number[]): number[] {
    return expected.filter((s) => !this.bySeq.has(s));
  }

  /**
   * Connects to `url`. With `resume: 'handshake'` the handshake carries `last_seq` for the room and
   * the call resolves on `resumed`; with `resume: 'subscribe'` it subscribes with `last_seq`; with
   * `resume: false` it subscribes plainly (a first visit).
   */
  async connect(url: string, resume: 'handshake' | 'subscribe' | false, lastSeq = this.lastContiguous()): Promise<{ connected: any; resumed?: Resumed; subscribed?: any }> {
    this.close();
    const auth: Record<string, unknown> = { token: this.token, ...(resume === 'handshake' ? { last_seq: { [this.room]: lastSeq } } : {}) };
    const socket = io(url, { auth, transports: ['websocket'], reconnection: false, forceNew: true });
    tracked(socket);
    this.socket = socket;
    this.nodeUrl = url;
    socket.on('parking_updated', (p: any) => {
      if (p.room !== this.room) return;
      this.arrivals++;
      if (this.bySeq.has(p.seq)) return;
      this.bySeq.set(p.seq, p);
      this.order.push(p.seq);
    });
    socket.on('room_snapshot', (p: any) => {
      if (p.room !== this.room) return;
      this.snapshots.push(p);
      this.head = Math.max(this.head, p.seq);
    });
    const resumed = resume === 'handshake' ? new Promise<Resumed>((resolve) => socket.once('resumed', resolve)) : undefined;
    socket.on('disconnect', (reason) => {
      this.disconnects.push(reason);
      if (this.socket === socket) this.onDisconnect?.(reason);
    });
    const connected = await new Promise<any>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.label}: no connected event from ${url}`)), 10_000);
      socket.once('connected', (c) => (clearTimeout(timer), resolve(c)));
      socket.once('connect_error', (err) => (clearTimeout(timer), reject(err)));
    });
    if (resume === 'handshake') {
      const r = await withTimeout(resumed!, 15_000, `${this.label}: resumed from ${url}`);
      return { connected, resumed: r };
    }
    const ack = await socket.timeout(15_000).emitWithAck('subscribe', { room: this.room, ...(resume === 'subscribe' ? { last_seq: lastSeq } : {}) });
    if (!ack.ok) throw new Error(`${this.label}: subscribe refused: ${JSON.stringify(ack.error)}`);
    return { connected, subscribed: ack.data };
  }

  close(): void {
    const s = this.socket;
    this.socket = undefined;
    if (s) {
      s.close();
      untrack(s);
    }
  }
}
