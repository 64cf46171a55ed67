import type { IoServer } from './types.js';

/** What this module touches of an engine.io connection. */
interface EngineConn {
  readyState: string;
  transport: { socket?: { terminate?: () => void } };
  close(discard?: boolean): void;
  once(event: 'close', listener: () => void): void;
}

/** Closes a session now: no orderly close (which waits for a poll or ws's close handshake, up to 30 s). */
function discard(conn: EngineConn): void {
  if (conn.readyState !== 'closed') conn.close(true);
  conn.transport.socket?.terminate?.();
}

/**
 * The Engine.IO sessions of this node that have not (yet) become an authenticated socket, oldest
 * first. Each is discarded after `timeoutMs` (SOCKET_CONNECT_TIMEOUT_MS), and at most `max` wait at
 * once (SOCKET_MAX_UNAUTHENTICATED): admitting one more discards the oldest.
 *
 * Discarding the oldest rather than refusing the newest keeps a flood from locking ordinary clients
 * out: one authenticates within a round trip of its handshake, while a flood's sessions never do,
 * so at any rate a node can take, an ordinary session is not the oldest for long. Memory is bounded
 * the same (a session costs about 8 kB).
 *
 * Socket.IO's own `connectTimeout` closes such a session in an orderly way, which for long-polling
 * waits up to 30 s for a poll that a flood never sends: the session stayed, counted and in memory.
 */
export class UnauthenticatedSessions {
  private readonly waiting = new Set<EngineConn>();

  constructor(
    private readonly opts: { max: number; timeoutMs: number; onEvicted: () => void },
  ) {}

  get size(): number {
    return this.waiting.size;
  }

  attach(io: IoServer): void {
    io.on('connection', (socket) => this.waiting.delete(socket.conn as unknown as EngineConn));
    io.engine.on('connection', (conn: EngineConn) => {
      this.waiting.add(conn);
      const timer = setTimeout(() => {
        if (this.waiting.delete(conn)) discard(conn);
      }, this.opts.timeoutMs);
      timer.unref();
      conn.once('close', () => {
        clearTimeout(timer);
        this.waiting.delete(conn);
      });
    });
  }

  /** Before a handshake is admitted: discards the oldest waiting sessions until there is room for it. */
  makeRoom(): void {
    for (const oldest of this.waiting) {
      if (this.waiting.size < this.opts.max) return;
      this.waiting.delete(oldest);
      discard(oldest);
      this.opts.onEvicted();
    }
  }
}
