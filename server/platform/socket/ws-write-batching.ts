import type { Server as IoServer } from 'socket.io';

/** What this module touches of an engine.io transport: its name, its send, and ws's TCP socket. */
interface Transport {
  name: string;
  send(packets: unknown[]): void;
  socket?: { _socket?: { cork?: () => void; uncork?: () => void } };
}

interface EngineSocket {
  transport: Transport;
  on(event: 'upgrade', listener: (transport: Transport) => void): void;
}

/** Marks a transport whose `send` is already the corked one (its own property; the class's is the original). */
const ORIGINAL_SEND = Symbol('spotcast.originalSend');
type Batched = Transport & { [ORIGINAL_SEND]?: Transport['send'] };

/** One function for every WebSocket transport (called with the transport as `this`): no closure per socket. */
function corkedSend(this: Batched, packets: unknown[]): void {
  const send = this[ORIGINAL_SEND]!;
  const raw = this.socket?._socket;
  if (packets.length < 2 || !raw) return send.call(this, packets);
  raw.cork!();
  try {
    send.call(this, packets);
  } finally {
    raw.uncork!();
  }
}
/**
 * One write system call for the packets engine.io flushes to a WebSocket together.
 *
 * While a WebSocket write is in flight, engine.io queues what else is emitted to that socket and
 * sends the queue in one `send(packets)` call, but writes each packet with its own `write()`: one
 * `writev` system call per packet per socket. That call was 57 % of the server's CPU time in the
 * fan-out benchmark. Corking the TCP socket for the length of that loop hands the kernel all the
 * queued frames at once; the bytes, their order and the moment they leave are the same. Corking
 * ws's underlying socket from outside is what the ws maintainers advise for batching writes
 * (websockets/ws#1999). Polling transports are left as they are: they already send one response.
 */
export function batchWebSocketWrites(io: IoServer): void {
  const engine = io.engine as unknown as { on(event: 'connection', listener: (socket: EngineSocket) => void): void };
  engine.on('connection', (socket) => {
    batch(socket.transport);
    socket.on('upgrade', batch);
  });
}

function batch(transport: Batched): void {
  const raw = transport.socket?._socket;
  if (transport.name !== 'websocket' || transport[ORIGINAL_SEND] || typeof raw?.cork !== 'function' || typeof raw.uncork !== 'function') return;
  // The class's send, kept on the transport (a reference, not a bound copy).
  transport[ORIGINAL_SEND] = transport.send;
  transport.send = corkedSend;
}
