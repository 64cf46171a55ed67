/**
 * Clients that speak Engine.IO / Socket.IO by hand, to behave as socket.io-client never would:
 * open sessions and never authenticate, poll never, or stop reading a WebSocket. Also a fixture
 * that fills a lot's stream in the event log (through the log's own append function).
 */
import WebSocket from 'ws';
import type { Db } from '../../server/platform/db/db.js';

const RS = '\x1e'; // Engine.IO v4 separates packets of one polling payload with it

export interface Handshake {
  status: number;
  body: string;
  retryAfter: string | null;
  /** The session id, when the handshake was accepted. */
  sid?: string;
}

/** `GET /socket.io/?EIO=4&transport=polling`, as a flood of handshakes would send it. */
export async function pollingHandshake(url: string, headers: Record<string, string> = {}): Promise<Handshake> {
  const res = await fetch(`${url}/socket.io/?EIO=4&transport=polling`, { headers });
  const body = await res.text();
  const out: Handshake = { status: res.status, body, retryAfter: res.headers.get('retry-after') };
  if (res.status === 200 && body.startsWith('0')) out.sid = (JSON.parse(body.slice(1)) as { sid: string }).sid;
  return out;
}

/** A polling session that sends what it is told and reads only when asked. */
export class PollingSession {
  private constructor(
    readonly url: string,
    readonly sid: string,
    private readonly headers: Record<string, string>,
  ) {}

  static async open(url: string, headers: Record<string, string> = {}): Promise<PollingSession> {
    const h = await pollingHandshake(url, headers);
    if (!h.sid) throw new Error(`handshake refused: ${h.status} ${h.body}`);
    return new PollingSession(url, h.sid, headers);
  }

  /** The session a handshake already opened. */
  static of(url: string, sid: string, headers: Record<string, string> = {}): PollingSession {
    return new PollingSession(url, sid, headers);
  }

  private get endpoint(): string {
    return `${this.url}/socket.io/?EIO=4&transport=polling&sid=${encodeURIComponent(this.sid)}`;
  }

  /** POSTs Engine.IO packets (already encoded, e.g. `40{...}`, `42[...]`); resolves with the status. */
  async send(...packets: string[]): Promise<number> {
    const res = await fetch(this.endpoint, { method: 'POST', body: packets.join(RS), headers: { ...this.headers, 'content-type': 'text/plain;charset=UTF-8' } });
    await res.text();
    return res.status;
  }

  /** One GET: what the server had queued, split into packets. */
  async poll(): Promise<{ status: number; packets: string[] }> {
    const res = await fetch(this.endpoint, { headers: this.headers });
    const body = await res.text();
    return { status: res.status, packets: res.status === 200 ? body.split(RS) : [body] };
  }

  /** Socket.IO connect packet with auth. */
  authenticate(token: string): Promise<number> {
    return this.send(`40${JSON.stringify({ token })}`);
  }
}

/** A Socket.IO event packet (`42[...]`), with an ack id when given. */
export function eventPacket(event: string, payload: unknown, ackId?: number): string {
  return `42${ackId ?? ''}${JSON.stringify([event, payload])}`;
}

/**
 * A WebSocket Socket.IO client written by hand: it answers pings and authenticates, records the
 * event names it receives, and can stop reading its TCP socket altogether (`stopReading`).
 */
export class RawWebSocketClient {
  readonly events: string[] = [];
  closed = false;
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const text = data.toString();
      if (text === '2') ws.send('3');
      else if (text.startsWith('42')) this.events.push(/^42\d*\["([^"]+)"/.exec(text)?.[1] ?? '?');
    });
    ws.on('close', () => (this.closed = true));
    ws.on('error', () => undefined);
  }

  /** Opens, authenticates and resolves once the server greeted it (`connected`). */
  static async connect(url: string, token: string): Promise<RawWebSocketClient> {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`);
    const client = new RawWebSocketClient(ws);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no connected event within 5 s')), 5000);
      ws.on('message', (data) => {
        const text = data.toString();
        if (text.startsWith('0')) ws.send(`40${JSON.stringify({ token })}`);
        else if (text.startsWith('44')) reject(new Error(`connect_error: ${text}`));
        else if (text.startsWith('42["connected"')) {
          clearTimeout(timer);
          resolve();
        }
      });
      ws.once('error', reject);
    });
    return client;
  }

  emit(event: string, payload: unknown, ackId?: number): void {
    this.ws.send(eventPacket(event, payload, ackId));
  }

  /** Stops reading from the TCP socket: what the server sends piles up in the kernel, then in the server. */
  stopReading(): void {
    (this.ws as unknown as { _socket: { pause(): void } })._socket.pause();
  }

  close(): void {
    this.ws.terminate();
  }
}

/**
 * Appends `n` parking_updated events to the lot's stream with the event log's own function, marked
 * dispatched (they are history to replay, not news for the sweeper). `pad` characters make each
 * event larger. Returns the stream's head.
 */
export async function appendLotEvents(db: Db, lotId: string, n: number, pad = 0): Promise<number> {
  const stream = `parking_lot:${lotId}`;
  return db.asSystem(async (tx) => {
    await tx.query(
      `select public.append_event($1, 'parking_updated', array[$1], jsonb_build_object(
         'parking_lot_id', $2::text, 'available_spaces', g, 'action', 'availability_updated',
         'timestamp', now(), 'note', repeat('x', $4)), null)
       from generate_series(1, $3) g`,
      [stream, lotId, n, pad],
    );
    await tx.query('update public.event_log set dispatched_at = now() where stream = $1 and dispatched_at is null', [stream]);
    const { rows } = await tx.query<{ last_seq: string }>('select last_seq from public.stream_sequences where stream = $1', [stream]);
    return Number(rows[0]!.last_seq);
  });
}
