import { randomUUID } from 'node:crypto';
import { io, type Socket } from 'socket.io-client';

/** Socket clients of the tests: each one made here is closed by `closeAll()` after its suite. */
export type Client = Socket;
const open = new Set<Socket>();

/** Registers a socket made elsewhere (stream-client.ts) so that `closeAll()` closes it too. */
export function tracked(socket: Socket): Socket {
  open.add(socket);
  return socket;
}
export function untrack(socket: Socket): void {
  open.delete(socket);
}

export const newUserId = (): string => randomUUID();

/**
 * Connects and resolves on the server's `connected` greeting; rejects with the connect_error.
 * `auth` is the token, or the whole handshake `auth` (a token and `last_seq`, say). WebSocket
 * only unless `transports` says otherwise (['polling'], or a browser's ['polling', 'websocket']);
 * no reconnection unless asked.
 */
export function connect(
  url: string,
  auth: string | undefined | Record<string, unknown>,
  opts: { timeoutMs?: number; transports?: ('polling' | 'websocket')[]; reconnection?: boolean } = {},
): Promise<{ socket: Client; connected: any }> {
  const handshake = auth === undefined ? {} : typeof auth === 'string' ? { token: auth } : auth;
  const socket = io(url, { auth: handshake, transports: opts.transports ?? ['websocket'], reconnection: opts.reconnection ?? false, forceNew: true });
  open.add(socket);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error(`no connected event from ${url} within ${opts.timeoutMs ?? 5000} ms`));
    }, opts.timeoutMs ?? 5000);
    socket.once('connected', (connected) => {
      clearTimeout(timer);
      resolve({ socket, connected });
    });
    socket.once('connect_error', (err: Error & { data?: unknown }) => {
      clearTimeout(timer);
      socket.close();
      reject(err);
    });
  });
}

/** The connect_error a refused client gets. */
export async function refusal(url: string, token: string | undefined, extra: { headers?: Record<string, string> } = {}): Promise<Error & { data?: any }> {
  const socket = io(url, {
    auth: token === undefined ? {} : { token },
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    ...(extra.headers ? { extraHeaders: extra.headers } : {}),
  });
  open.add(socket);
  return new Promise((resolve, reject) => {
    socket.once('connected', () => reject(new Error('connection was accepted')));
    socket.once('connect_error', (err) => {
      socket.close();
      resolve(err);
    });
  });
}

/** Emits with an acknowledgement and resolves with the `{ ok, ... }` answer. */
export function call(socket: Client, event: string, ...args: unknown[]): Promise<any> {
  return socket.timeout(5000).emitWithAck(event, ...args);
}

/** Resolves with the next matching event; rejects after the timeout. */
export function nextEvent(socket: Client, event: string, predicate: (p: any) => boolean = () => true, timeoutMs = 5000): Promise<any> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.off(event, listener);
      reject(new Error(`no ${event} within ${timeoutMs} ms`));
    }, timeoutMs);
    const listener = (payload: unknown) => {
      if (!predicate(payload)) return;
      clearTimeout(timer);
      socket.off(event, listener);
      resolve(payload);
    };
    socket.on(event, listener);
  });
}

/** Records every payload of an event, to assert later that something did (not) arrive. */
export function record(socket: Client, event: string): any[] {
  const seen: any[] = [];
  socket.on(event, (p: unknown) => seen.push(p));
  return seen;
}


export function closeAll(): void {
  for (const s of open) s.close();
  open.clear();
}
