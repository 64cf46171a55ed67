import type { IoServer } from './types.js';

/** What this module touches of an engine.io connection. */
interface EngineConn {
  readyState: string;
  transport: { socket?: { terminate?: () => void } };
  close(discard?: boolean): void;
  on(event: 'close', listener: (this: EngineConn) => void): void;
  off(event: 'close', listener: (this: EngineConn) => void): void;
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
  /** Session → its deadline (epoch ms); insertion order is deadline order (one timeout for all). */
  private readonly waiting = new Map<EngineConn, number>();
  /** One timer, for the oldest waiting session's deadline (not a Timeout per session). */
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly opts: { max: number; timeoutMs: number; onEvicted: () => void },
  ) {}

  get size(): number {
    return this.waiting.size;
  }

  attach(io: IoServer): void {
    const waiting = this.waiting;
    // Called with the session as `this`: one listener for every session.
    function onClose(this: EngineConn): void {
      waiting.delete(this);
    }
    io.on('connection', (socket) => {
      const conn = socket.conn as unknown as EngineConn;
      waiting.delete(conn);
      conn.off('close', onClose);
    });
    io.engine.on('connection', (conn: EngineConn) => {
      waiting.set(conn, Date.now() + this.opts.timeoutMs);
      conn.on('close', onClose);
      this.timer ??= this.arm();
    });
  }

  /** Before a handshake is admitted: discards the oldest waiting sessions until there is room for it. */
  makeRoom(): void {
    for (const oldest of this.waiting.keys()) {
      if (this.waiting.size < this.opts.max) return;
      this.waiting.delete(oldest);
      discard(oldest);
      this.opts.onEvicted();
    }
  }

  private arm(): NodeJS.Timeout | undefined {
    const first = this.waiting.values().next();
    if (first.done) return undefined;
    const timer = setTimeout(() => this.expire(), Math.max(first.value - Date.now(), 0));
    timer.unref();
    return timer;
  }

  /** Discards every session past its deadline (the oldest first), then waits for the next one. */
  private expire(): void {
    const now = Date.now();
    for (const [conn, deadline] of this.waiting) {
      if (deadline > now) break;
      this.waiting.delete(conn);
      discard(conn);
    }
    this.timer = this.arm();
  }
}
