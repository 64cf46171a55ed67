/**
 * Runs the document's event snippets as written: each block is the body of a function whose free
 * names (`socket`, `io`, `console`) the test supplies, with the document's placeholders filled.
 */
import { io, type Socket } from 'socket.io-client';
import { block, fill } from './document.js';

export interface ConsoleLine {
  level: 'log' | 'error';
  args: unknown[];
}

/** The `console` the snippets log to: it records instead of printing. */
export function recordingConsole(): { console: Pick<Console, 'log' | 'error'>; lines: ConsoleLine[] } {
  const lines: ConsoleLine[] = [];
  return {
    lines,
    console: {
      log: (...args: unknown[]) => void lines.push({ level: 'log', args }),
      error: (...args: unknown[]) => void lines.push({ level: 'error', args }),
    },
  };
}

/** Runs `code` as a function body with `scope`'s names bound; returns what the body returns. */
export function run(code: string, scope: Record<string, unknown>): unknown {
  return new Function(...Object.keys(scope), code)(...Object.values(scope));
}

const opened: Socket[] = [];

/** The "Authentication" snippet: `io(url, { auth: { token } })`, its URL and token filled in. */
export function authenticate(url: string, token: string | undefined): Socket {
  const code = fill(block('Authentication').code, {
    "'http://localhost:5000'": JSON.stringify(url),
    "'your-jwt-token'": token === undefined ? 'undefined' : JSON.stringify(token),
  });
  const socket = run(`${code}\nreturn socket;`, { io }) as Socket;
  opened.push(socket);
  return socket;
}

export function closeSnippetSockets(): void {
  for (const s of opened.splice(0)) s.close();
}

export interface Heard {
  event: string;
  data: any;
}

/** Everything a socket receives, to find what the snippets' listeners were given. */
export function hear(socket: Socket): Heard[] {
  const heard: Heard[] = [];
  socket.onAny((event: string, data: unknown) => heard.push({ event, data }));
  return heard;
}

/** The listener snippets of "Server → Client Events", all registered on `socket`. */
export const LISTENER_SNIPPETS = ['Connection Events', 'Real-Time Updates', 'System Events', 'Error Handling'] as const;

export function listen(socket: Socket, console: Pick<Console, 'log' | 'error'>): void {
  for (const heading of LISTENER_SNIPPETS) run(block(heading).code, { socket, console });
}

/** The emitting snippets of "Client → Server Events" with the document's example ids replaced by real ones. */
export function roomSubscriptions(socket: Socket, lotId: string): void {
  run(fill(block('Room Subscriptions').code, { 'parking_lot:123': `parking_lot:${lotId}` }), { socket });
}

export function dataRequests(socket: Socket, lotId: string, bookingId: string): void {
  run(fill(block('Data Requests').code, { "parking_lot_id: '123'": `parking_lot_id: '${lotId}'`, "booking_id: '456'": `booking_id: '${bookingId}'` }), { socket });
}
