import type { IoSocket } from './types.js';

/** engine.io's Socket writes its queue to the transport in `flush()`, which every queued packet calls. */
interface Flushable {
  flush(): void;
}

/**
 * Runs `emits` with the socket's engine.io flushes held back, then flushes once: everything they
 * queued reaches the transport in one `send` (one HTTP response for polling; for a WebSocket, one
 * corked write, see ws-write-batching.ts) instead of the first packet alone and the rest after.
 * The packets, their order and the events the client sees are unchanged. Used for replays, which
 * emit up to REPLAY_MAX_EVENTS packets back to back.
 */
export function inOneWrite(socket: IoSocket, emits: () => void): void {
  const conn = socket.conn as unknown as Flushable;
  // Already held (a nested call): the outer call flushes.
  if (flushHeld(conn)) return emits();
  conn.flush = () => undefined;
  try {
    emits();
  } finally {
    delete (conn as Partial<Flushable>).flush;
    conn.flush();
  }
}

/** True while `inOneWrite` holds the connection's flushes back (its queue is about to be written at once). */
export function flushHeld(conn: object): boolean {
  return Object.hasOwn(conn, 'flush');
}
