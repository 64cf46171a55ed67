import type { Logger } from '../logger.js';
import type { Metrics } from '../observability/metrics.js';
import { flushHeld } from './one-write.js';
import type { IoSocket } from './types.js';

/** What this module reads of an engine.io connection (engine.io's Socket; these fields are not in its public types). */
interface EnginePacket {
  data?: unknown;
}
interface EngineConn {
  readyState: string;
  writeBuffer: EnginePacket[];
  packetsFn: unknown[];
  transport: { name: string; socket?: { bufferedAmount?: number; terminate?: () => void } };
  on(event: 'packetCreate', listener: (this: GuardedConn, packet: EnginePacket) => void): void;
  on(event: 'flush', listener: (this: GuardedConn) => void): void;
  close(discard?: boolean): void;
}

/** Bytes queued on a connection since its last flush; -1 once it is condemned as a slow consumer. */
const QUEUED = Symbol('spotcast.queued');
/** The Socket.IO socket a guarded connection carries (one namespace: one socket per connection). */
const SOCKET = Symbol('spotcast.socket');
type GuardedConn = EngineConn & { [QUEUED]?: number; [SOCKET]?: IoSocket };

/** Counted per queued packet on top of its encoded length: the packet object and its bookkeeping. */
const PACKET_OVERHEAD = 64;
/** How long a transport the server closes gets to take its last packets (SLOW_CONSUMER, a disconnect) before it is cut. */
const CLOSE_GRACE_MS = 1000;

const closeReasons = new WeakMap<IoSocket, string>();

/** Why the server closed this socket, when it was not the client's doing (for the connection log). */
export function serverCloseReason(socket: IoSocket): string | undefined {
  return closeReasons.get(socket);
}

function sizeOf(packet: EnginePacket): number {
  const { data } = packet;
  if (typeof data === 'string') return data.length + PACKET_OVERHEAD;
  if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) return data.byteLength + PACKET_OVERHEAD;
  return PACKET_OVERHEAD;
}

/** Bytes handed to the WebSocket but not yet taken by the kernel (ws's own count; polling has none). */
function transportBacklog(conn: EngineConn): number {
  return conn.transport.name === 'websocket' ? (conn.transport.socket?.bufferedAmount ?? 0) : 0;
}


export interface OutputGuard {
  /** Starts counting what is queued for this socket. */
  watch(socket: IoSocket): void;
  /** At the socket's disconnect. */
  disconnected(socket: IoSocket, reason: string): void;
}

/**
 * Bounds what one socket may have waiting to be sent. A client that never reads makes engine.io
 * queue every packet for it (and ws buffer what the kernel will not take) without limit; past
 * `maxBytes` the socket is disconnected as a slow consumer instead.
 *
 * The count is kept as packets are queued (engine.io's `packetCreate`), reset when engine.io hands
 * its queue to the transport (`flush`), and added to ws's `bufferedAmount`, both O(1): the check
 * costs the same whether the node has ten sockets or fifty thousand. A polling client's
 * in-flight response holds at most one flushed queue, so polling is bounded by twice `maxBytes`.
 * `maxBytes` must stay above the largest burst a reading client gets at once: a replay of
 * REPLAY_MAX_EVENTS events.
 *
 * The listeners are created once per node and called with the connection as `this`; the count is
 * a property of the connection: a socket costs no closure for this.
 */
export function pendingOutputGuard(opts: { maxBytes: number; metrics: Metrics; logger: Logger }): OutputGuard {
  function onFlush(this: GuardedConn): void {
    if (this[QUEUED] !== -1) this[QUEUED] = 0;
  }
  function onPacketCreate(this: GuardedConn, packet: EnginePacket): void {
    const before = this[QUEUED] ?? 0;
    if (before === -1) return;
    const queued = before + sizeOf(packet);
    this[QUEUED] = queued;
    // A burst written at once (a replay) is judged by what the client has not taken of it when the
    // next packet comes, not while it is being queued.
    if (flushHeld(this) || queued + transportBacklog(this) <= opts.maxBytes) return;
    this[QUEUED] = -1;
    const pending = queued + transportBacklog(this);
    const socket = this[SOCKET];
    // After the emit under way (a broadcast may be iterating the socket's rooms right now).
    if (socket) queueMicrotask(() => disconnectSlowConsumer(socket, this, { ...opts, pending }));
  }
  return {
    watch(socket) {
      const conn = socket.conn as unknown as GuardedConn;
      conn[QUEUED] = 0;
      conn[SOCKET] = socket;
      conn.on('flush', onFlush);
      conn.on('packetCreate', onPacketCreate);
    },
    disconnected(socket, reason) {
      // Any disconnect the server decides (a rate limit, an expired token) closes the transport once
      // its queue is taken, which a client that never reads never does: its connection, and what was
      // queued for it, would stay until the ping timeout and ws's close handshake, over a minute.
      if (reason === 'server namespace disconnect') cutAfterGrace(socket.conn as unknown as EngineConn);
    },
  };
}

function disconnectSlowConsumer(socket: IoSocket, conn: EngineConn, opts: { maxBytes: number; metrics: Metrics; logger: Logger; pending: number }): void {
  if (conn.readyState !== 'open') return;
  closeReasons.set(socket, 'slow consumer');
  opts.metrics.slowConsumerDisconnects.inc({ transport: conn.transport.name });
  opts.logger.warn(
    { socketId: socket.id, userId: socket.data.principal.userId, transport: conn.transport.name, pendingBytes: opts.pending, maxBytes: opts.maxBytes },
    'socket does not take its output; disconnecting it as a slow consumer',
  );
  // What is queued would not be read in time anyway: drop it, and say why instead.
  conn.writeBuffer = [];
  conn.packetsFn = [];
  socket.emit('error', {
    code: 'SLOW_CONSUMER',
    message: `More than ${opts.maxBytes} bytes were waiting for this connection; reconnect and resume with last_seq`,
  });
  // A transport close rather than a Socket.IO disconnect: socket.io-client reconnects by itself and
  // resumes with its last_seq, as after any network drop. Closing waits for the error to be taken...
  conn.close();
  // ...for a moment only.
  cutAfterGrace(conn);
}

/** After the grace, the connection is cut if still open, and ws's buffer with it (ws would keep it for its 30 s close handshake). */
function cutAfterGrace(conn: EngineConn): void {
  setTimeout(() => {
    if (conn.readyState !== 'closed') conn.close(true);
    conn.transport.socket?.terminate?.();
  }, CLOSE_GRACE_MS).unref();
}
